package dev.graft.plugin.lora;

import ai.djl.ndarray.types.Shape;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.MethodConformanceTest;

import java.util.Map;

/**
 * LoRA started by PiSSA (init_lora_weights: pissa), r = 4, α = 8, passes the conformance kit: the output is unchanged at the start,
 * merges round-trip, the base stays bit-identical through training, save and load give identical outputs (the load
 * derives the same start from the base), on the tiny Llama, BERT and a float16 base.
 */
final class TestLoraPissaConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new LoraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "lora_alpha", 8, "init_lora_weights", "pissa");
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 4, "lora_alpha", 8, "init_lora_weights", "pissa", "lora_dropout", 0.5);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "eva", Map.of("init_lora_weights", "eva"),
                "lora_bias", Map.of("init_lora_weights", "pissa", "lora_bias", true),
                "unknown init", Map.of("init_lora_weights", "pissa_fast"));
    }

    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of("lora_A.weight", new Shape(4, linear.inFeatures()), "lora_B.weight", new Shape(linear.outFeatures(), 4));
    }

    /** ΔW = s·B·A − s·B₀·A₀, the second term from the base weight by PEFT's formula, s = 8/4. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        return BaseDerivedStarts.delta(tensors.site(site, "lora_B.weight").matrix(), tensors.site(site, "lora_A.weight").matrix(), 8.0 / 4,
                BaseDerivedStarts.pissaPart(weight, 4));
    }
}
