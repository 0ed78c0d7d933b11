package dev.graft.plugin.vera;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterState;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
import dev.graft.tck.MethodConformanceTest;
import dev.graft.tck.SavedTensor;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The conformance kit on VeRA (r=16 on q_proj and v_proj of the tiny Llama), plus the count and the shared projections. */
final class TestVeraConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new VeraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 16);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "rank 0", Map.of("r", 0),
                "dropout 1", Map.of("vera_dropout", 1.0),
                "fan_in_fan_out", Map.of("fan_in_fan_out", true),
                "bias all", Map.of("bias", "all"),
                "key of the wrong type", Map.of("projection_prng_key", "zero"));
    }

    @Test
    void testParameterCountIsOutPlusRankPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // (64 + 16) for q_proj + (32 + 16) for v_proj, times 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(256);
    }

    @Test
    void testSharedProjectionsAreFrozenSizedToTheLargestTargetAndSavedOnce() {
        PeftModel model = newModel();
        TargetRules targets = TargetRules.fromConfig(Map.of("target_modules", List.of("v_proj", "down_proj")));
        Adapter adapter = model.addAdapter(new AdapterSpec("default", options(), targets, Composition.SUM), method());
        Map<String, Parameter> shared = adapter.instance().sharedParameters();
        assertThat(shared).containsOnlyKeys(VeraInstance.SHARED_A_KEY, VeraInstance.SHARED_B_KEY);
        // v_proj is 64 → 32 and down_proj 128 → 64: max_in 128, max_out 64
        assertThat(shared.get(VeraInstance.SHARED_A_KEY).getArray().getShape()).isEqualTo(new Shape(16, 128));
        assertThat(shared.get(VeraInstance.SHARED_B_KEY).getArray().getShape()).isEqualTo(new Shape(64, 16));
        for (Parameter parameter : shared.values()) {
            assertThat(parameter.requiresGradient()).as("%s is frozen", parameter.getName()).isFalse();
        }
        // (32 + 16) per v_proj + (64 + 16) per down_proj, times 2 layers: the projections are not counted
        assertThat(model.trainableParameterCount()).isEqualTo(256);
        try (NDManager scratch = NDManager.newBaseManager()) {
            Map<String, NDArray> saved = AdapterState.collect(adapter, scratch);
            assertThat(saved.keySet()).containsExactly(
                    "base_model.model.model.layers.0.self_attn.v_proj.vera_lambda_b",
                    "base_model.model.model.layers.0.self_attn.v_proj.vera_lambda_d",
                    "base_model.model.model.layers.0.mlp.down_proj.vera_lambda_b",
                    "base_model.model.model.layers.0.mlp.down_proj.vera_lambda_d",
                    "base_model.model.model.layers.1.self_attn.v_proj.vera_lambda_b",
                    "base_model.model.model.layers.1.self_attn.v_proj.vera_lambda_d",
                    "base_model.model.model.layers.1.mlp.down_proj.vera_lambda_b",
                    "base_model.model.model.layers.1.mlp.down_proj.vera_lambda_d",
                    VeraInstance.SHARED_A_KEY,
                    VeraInstance.SHARED_B_KEY);
        }
    }

    @Test
    void testProjectionKeySelectsTheProjections() {
        PeftModel model = newModel();
        Adapter first = attach(model, "default", Composition.SUM);
        Adapter second = model.addAdapter(new AdapterSpec("other", Map.of("r", 16, "projection_prng_key", 1),
                TargetRules.fromConfig(Map.of("target_modules", targetModules())), Composition.SUM), method());
        Adapter third = model.addAdapter(new AdapterSpec("again", Map.of("r", 16),
                TargetRules.fromConfig(Map.of("target_modules", targetModules())), Composition.SUM), method());
        float[] projection = sharedA(first);
        assertThat(sharedA(second)).isNotEqualTo(projection);
        assertThat(sharedA(third)).containsExactly(projection);
    }

    private static float[] sharedA(Adapter adapter) {
        return adapter.instance().sharedParameters().get(VeraInstance.SHARED_A_KEY).getArray().toFloatArray();
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 16, "vera_dropout", 0.5);
    }

    /** Per layer {@code vera_lambda_b (out)} and {@code vera_lambda_d (r)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("vera_lambda_b", new Shape(((LinearSite) site).outFeatures()), "vera_lambda_d", new Shape(16));
    }

    /** One pair of projections sized to the largest target: query and value are hidden → at most hidden on both models. */
    @Override
    protected Map<String, Shape> expectedSharedTensors(ModelContext model) {
        return Map.of("base_model.vera_A", new Shape(16, model.hiddenSize()), "base_model.vera_B", new Shape(model.hiddenSize(), 16));
    }

    /** ΔW = (λ_b·B_s)(λ_d·A_s), with {@code A_s = vera_A[:, :in]}, {@code B_s = vera_B[:out, :]} and each λ scaling its matrix's rows. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor lambdaB = tensors.site(site, "vera_lambda_b");
        SavedTensor lambdaD = tensors.site(site, "vera_lambda_d");
        SavedTensor projectionA = tensors.key("base_model.vera_A");
        SavedTensor projectionB = tensors.key("base_model.vera_B");
        int rank = 16;
        float[][] left = new float[site.outFeatures()][rank];
        float[][] right = new float[rank][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < rank; column++) {
                left[row][column] = lambdaB.at(row) * projectionB.at(row, column);
            }
        }
        for (int row = 0; row < rank; row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                right[row][column] = lambdaD.at(row) * projectionA.at(row, column);
            }
        }
        return Matrices.product(left, right);
    }
}
