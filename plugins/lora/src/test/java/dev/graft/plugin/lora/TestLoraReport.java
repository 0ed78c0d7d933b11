package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.ModelReport;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The count, in PEFT's print_trainable_parameters format, with what attaches where. */
final class TestLoraReport {
    @Test
    void testReportsPeftLineAndAttachments() {
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 1), manager, null));
            model.addAdapter(new AdapterSpec("default", Map.of("r", 4, "lora_alpha", 8),
                    TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"))), Composition.SUM), new LoraMethod());

            // base: embeddings 8,192 + 2 layers × 36,992 + norm 64 + lm_head 8,192 = 90,432; adapter 1,792
            assertThat(ModelReport.trainableParametersLine(model)).isEqualTo("trainable params: 1,792 || all params: 92,224 || trainable%: 1.9431");
            assertThat(ModelReport.attachmentLines(model)).hasSize(4)
                    .contains("default  lora  sum  linear  model.layers.1.self_attn.v_proj  lora_A.weight(4, 64) lora_B.weight(32, 4)");
        }
    }
}
