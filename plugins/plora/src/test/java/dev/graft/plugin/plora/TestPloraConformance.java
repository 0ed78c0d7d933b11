package dev.graft.plugin.plora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
import dev.graft.tck.MethodConformanceTest;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The conformance kit on PeriodicLoRA (r=4 on q_proj and v_proj of the tiny Llama), plus the parameter count. */
final class TestPloraConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new PloraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "lora_alpha", 8);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "rank 0", Map.of("r", 0),
                "negative alpha", Map.of("lora_alpha", -8),
                "dropout 1", Map.of("lora_dropout", 1.0),
                "offload_every 0", Map.of("offload_every", 0),
                "momentum 1", Map.of("momentum", 1.0),
                "negative momentum", Map.of("momentum", -0.1),
                "unknown offload unit", Map.of("offload_unit", "epochs"),
                "unknown optimizer policy", Map.of("optimizer_state", "prune"));
    }

    @Test
    void testParameterCountOfDefaultRankOnQueryAndValue() {
        PeftModel model = newModel();
        TargetRules targets = TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj")));
        model.addAdapter(new AdapterSpec("default", Map.of(), targets, Composition.SUM), method());
        // r=8 · ((64 + 64) for q_proj + (64 + 32) for v_proj) · 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(3584);
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
