package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Adapter;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.tck.MethodConformanceTest;
import org.junit.jupiter.api.Test;

import java.util.Map;

/** LoRA with r = 4, α = 8 on q_proj and v_proj passes the conformance kit on the runtime's tiny Llama. */
final class TestLoraConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new LoraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "lora_alpha", 8);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "rank 0", Map.of("r", 0),
                "dropout 1", Map.of("lora_dropout", 1.0),
                "fractional pattern rank", Map.of("rank_pattern", Map.of("q_proj", 2.5)),
                "bias all", Map.of("bias", "all"),
                "fan_in_fan_out", Map.of("fan_in_fan_out", true),
                "DoRA", Map.of("use_dora", true));
    }

    @Test
    void testParameterCountOnTheTinyLlama() {
        // 2 layers of q_proj 64→64 and v_proj 64→32 at r = 4: 2·(4·128 + 4·96).
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).hasSize(4);
        assertThat(model.trainableParameterCount()).isEqualTo(1_792L);
    }
}
