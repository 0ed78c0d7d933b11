package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
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
                "DoRA with lora_bias", Map.of("use_dora", true, "lora_bias", true));
    }

    @Test
    void testParameterCountOnTheTinyLlama() {
        // 2 layers of q_proj 64→64 and v_proj 64→32 at r = 4: 2·(4·128 + 4·96).
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).hasSize(4);
        assertThat(model.trainableParameterCount()).isEqualTo(1_792L);
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 4, "lora_alpha", 8, "lora_dropout", 0.5);
    }

    /** PEFT's layout: {@code lora_A.weight (r, in)} and {@code lora_B.weight (out, r)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of("lora_A.weight", new Shape(4, linear.inFeatures()), "lora_B.weight", new Shape(linear.outFeatures(), 4));
    }

    /** ΔW = s·B·A with s = α/r = 8/4. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        return Matrices.scaled(Matrices.product(tensors.site(site, "lora_B.weight").matrix(), tensors.site(site, "lora_A.weight").matrix()), 8.0 / 4);
    }
}
