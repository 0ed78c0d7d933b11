package dev.graft.runtime.compose;

import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.graft.runtime.compose.LinearKindsMethod.Kind;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.Site;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Adapters (float32) on a float16 Llama: the linear sites cast each contribution to float16 where they compose it,
 * so the model runs and its logits match the float32 model of the same weights with the same adapters.
 */
final class TestHalfPrecisionSites {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();
    private static final double TOLERANCE = 2e-2;

    @Test
    void testLowRankAdapterOnFloat16LlamaMatchesFloat32AndTrainsInFloat32() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager singleManager = manager.newSubManager();
            NDManager halfManager = manager.newSubManager();
            PeftModel single = model(manager, singleManager, DataType.FLOAT32);
            PeftModel half = model(manager, halfManager, DataType.FLOAT16);
            float[] baseline = logits(single, manager);
            for (PeftModel model : List.of(single, half)) {
                model.addAdapter(new AdapterSpec("lowrank", Map.of(), allLinear(), Composition.SUM), new LinearKindsMethod(Kind.LOW_RANK, 3));
            }

            float[] expected = logits(single, manager);
            assertThat(maximumDifference(baseline, expected, MASK)).as("the adapter changes the float32 logits").isGreaterThan(0.5);
            NDArray halfLogits = forward(half, manager, false);
            assertThat(halfLogits.getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(maximumDifference(halfLogits.toType(DataType.FLOAT32, false).toFloatArray(), expected, MASK))
                    .as("float16 base + float32 adapter against float32 base + the same adapter").isLessThan(TOLERANCE);

            Map<String, float[]> singleGradients = gradients(single, manager);
            Map<String, float[]> halfGradients = gradients(half, manager);
            assertThat(halfGradients.keySet()).hasSize(2 * 7 * CONFIG.numLayers()).isEqualTo(singleGradients.keySet());
            halfGradients.forEach((name, gradient) -> {
                float[] reference = singleGradients.get(name);
                double scale = 0;
                double difference = 0;
                for (int index = 0; index < reference.length; index++) {
                    scale = Math.max(scale, Math.abs(reference[index]));
                    difference = Math.max(difference, Math.abs(gradient[index] - reference[index]));
                }
                assertThat(scale).as("gradient of %s", name).isPositive();
                assertThat(difference / scale).as("gradient of %s, float16 base against float32 base", name).isLessThan(TOLERANCE);
            });

            halfManager.cap();
            try (NDManager batch = manager.newSubManager()) {
                forward(half, batch, false);
                forward(half, batch, false);
            }
        }
    }

    @Test
    void testEveryKindOfContributionIsCastToTheBaseType() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager halfManager = manager.newSubManager();
            PeftModel single = model(manager, manager.newSubManager(), DataType.FLOAT32);
            PeftModel half = model(manager, halfManager, DataType.FLOAT16);
            for (PeftModel model : List.of(single, half)) {
                // the gates' N(0, 0.02) init draws from the engine: the same seed gives both models the same gates
                Engine.getInstance().setRandomSeed(11);
                model.addAdapter(new AdapterSpec("lowrank", Map.of(), allLinear(), Composition.GATED), new LinearKindsMethod(Kind.LOW_RANK, 5));
                model.addAdapter(new AdapterSpec("input", Map.of(), allLinear(), Composition.SUM), new LinearKindsMethod(Kind.INPUT_SCALE, 6));
                model.addAdapter(new AdapterSpec("output", Map.of(), allLinear(), Composition.GATED), new LinearKindsMethod(Kind.OUTPUT_SCALE, 7));
                model.addAdapter(new AdapterSpec("transform", Map.of(), allLinear(), Composition.GATED), new LinearKindsMethod(Kind.WEIGHT_DELTA, 8));
            }
            halfManager.cap();
            float[] expected = logits(single, manager);
            half.setGateRecording(true);
            try (NDManager batch = manager.newSubManager()) {
                NDArray halfLogits = forward(half, batch, false);
                assertThat(halfLogits.getDataType()).isEqualTo(DataType.FLOAT16);
                assertThat(maximumDifference(halfLogits.toType(DataType.FLOAT32, false).toFloatArray(), expected, MASK))
                        .as("gated low-rank, input and output scales and a gated weight delta, float16 base against float32").isLessThan(TOLERANCE);
            }
            assertThat(half.gateReadings()).isNotEmpty().allSatisfy(reading -> assertThat(reading.mean()).isStrictlyBetween(0.0, 1.0));
        }
    }

    /**
     * The tiny Llama on {@code modelManager}, its weights in {@code type}: the same random weights rounded to float16
     * for both types, so that only the forward's precision differs.
     */
    private static PeftModel model(NDManager scratchParent, NDManager modelManager, DataType type) {
        try (NDManager scratch = scratchParent.newSubManager()) {
            Map<String, NDArray> weights = new LinkedHashMap<>();
            LlamaWeights.random(CONFIG, scratch, 21).forEach((key, value) -> weights.put(key, value.toType(DataType.FLOAT16, false).toType(type, false)));
            return new PeftModel(LlamaForCausalLM.create(CONFIG, weights, modelManager, null));
        }
    }

    /**
     * The gradients of {@code Σ logits²} for the adapter's parameters (each float32, as the parameters are), keyed by site
     * and parameter name.
     */
    private static Map<String, float[]> gradients(PeftModel model, NDManager manager) {
        Map<String, float[]> gradients = new LinkedHashMap<>();
        try (NDManager batch = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray logits = forward(model, batch, true);
            collector.backward(logits.square().sum());
            for (Map.Entry<Site, Attachment> entry : model.adapter("lowrank").attachments().entrySet()) {
                for (Pair<String, Parameter> parameter : entry.getValue().module().getParameters()) {
                    NDArray gradient = parameter.getValue().getArray().getGradient();
                    assertThat(gradient.getDataType()).as("gradient of %s", parameter.getKey()).isEqualTo(DataType.FLOAT32);
                    gradients.put(entry.getKey().name() + "." + parameter.getKey(), gradient.toFloatArray());
                }
            }
        }
        return gradients;
    }

    private static TargetRules allLinear() {
        return TargetRules.fromConfig(Map.of("target_modules", "all-linear"));
    }

    private static NDArray forward(PeftModel model, NDManager manager, boolean training) {
        return model.forward(new ParameterStore(manager, false), new NDList(manager.create(IDS), manager.create(MASK)), training).singletonOrThrow();
    }

    private static float[] logits(PeftModel model, NDManager manager) {
        return forward(model, manager, false).toFloatArray();
    }
}
