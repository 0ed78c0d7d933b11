package dev.graft.plugin.lora;

import static dev.graft.plugin.lora.ArrayStatistics.maximumAbsolute;
import static dev.graft.plugin.lora.ArrayStatistics.mean;
import static dev.graft.plugin.lora.ArrayStatistics.standardDeviation;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

final class TestLoraModule {
    private NDManager modelManager;
    private NDManager batchManager;
    private ParameterStore parameterStore;

    @BeforeEach
    void setUp() {
        modelManager = NDManager.newBaseManager();
        batchManager = NDManager.newBaseManager();
        parameterStore = new ParameterStore(modelManager, false);
    }

    @AfterEach
    void tearDown() {
        batchManager.close();
        modelManager.close();
    }

    @Test
    void testDeltaEqualsHandComputation() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 3));

        NDArray delta = module.delta(parameterStore, x, false);

        // A·x = (7, -1) and (0, -0.5); B·(A·x) = (5, 22) and (-1, 0.5). Unscaled: scaling() is applied by the runtime.
        assertThat(delta.getShape()).isEqualTo(new Shape(2, 2));
        assertThat(delta.toFloatArray()).containsExactly(5, 22, -1, 0.5f);
    }

    @Test
    void testDeltaWithLoraBiasAddsTheBias() {
        LoraModule module = handSetModule(1, true);
        set(module, LoraModule.LORA_B_BIAS, 0.5f, -2);
        NDArray x = batchManager.create(new float[] {1, 2, 3}, new Shape(1, 3));

        assertThat(module.delta(parameterStore, x, false).toFloatArray()).containsExactly(5.5f, 20);
    }

    @Test
    void testScaledDeltaScalesTheHiddenStateToTheScaledDelta() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 3));

        // the factor applies to A·x (rank 2), not to the (..., out) result; the values are 2·delta (power of two: exact)
        assertThat(module.scaledDelta(parameterStore, x, false, 2f).toFloatArray()).containsExactly(10, 44, -2, 1);
        assertThat(module.scaledDelta(parameterStore, x, false, 1f).toFloatArray()).containsExactly(5, 22, -1, 0.5f);
    }

    @Test
    void testAddScaledDeltaAddsTheScaledDeltaToTheOutputInOneCall() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 1, 3));
        NDArray output = batchManager.create(new float[] {0.25f, -1, 100, 3}, new Shape(2, 1, 2));

        NDArray sum = module.addScaledDelta(parameterStore, x, false, 2f, output);

        // 2·delta = (10, 44, -2, 1), as testScaledDeltaScalesTheHiddenStateToTheScaledDelta; the output is unchanged
        assertThat(sum.getShape()).isEqualTo(new Shape(2, 1, 2));
        assertThat(sum.toFloatArray()).containsExactly(10.25f, 43, 98, 4);
        assertThat(output.toFloatArray()).containsExactly(0.25f, -1, 100, 3);
    }

    @Test
    void testAddScaledDeltaWithLoraBiasAddsTheScaledBiasToo() {
        LoraModule module = handSetModule(1, true);
        set(module, LoraModule.LORA_B_BIAS, 0.5f, -2);
        NDArray x = batchManager.create(new float[] {1, 2, 3}, new Shape(1, 3));
        NDArray output = batchManager.create(new float[] {1, 1}, new Shape(1, 2));

        assertThat(module.addScaledDelta(parameterStore, x, false, 2f, output).toFloatArray()).containsExactly(12, 41);
    }

    @Test
    void testAddScaledDeltaGivesTheOutputAndTheFactorsTheGradientsOfTheSum() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 1, 3));
        NDArray output = batchManager.create(new float[] {0.25f, -1, 100, 3}, new Shape(2, 1, 2));
        NDArray weights = batchManager.create(new float[] {1, -2, 3, 0.5f}, new Shape(2, 1, 2));

        float[][] fused = gradients(module, output, () -> module.addScaledDelta(parameterStore, x, true, 2f, output).mul(weights).sum());
        float[][] plain = gradients(module, output, () -> output.add(module.delta(parameterStore, x, true).mul(2f)).mul(weights).sum());

        for (int index = 0; index < plain.length; index++) {
            assertThat(fused[index]).containsExactly(plain[index]);
        }
        assertThatThrownBy(() -> module.addScaledDelta(parameterStore, x, false, 2f, batchManager.zeros(new Shape(2, 1, 3))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("output has shape (2, 1, 3) for an input of shape (2, 1, 3)");
    }

    @Test
    void testScaledDeltaWithLoraBiasScalesTheBiasToo() {
        LoraModule module = handSetModule(1, true);
        set(module, LoraModule.LORA_B_BIAS, 0.5f, -2);
        NDArray x = batchManager.create(new float[] {1, 2, 3}, new Shape(1, 3));

        assertThat(module.scaledDelta(parameterStore, x, false, 2f).toFloatArray()).containsExactly(11, 40);
    }

    @Test
    void testGatedDeltaGatesEachExample() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 1, 3));
        NDArray gate = batchManager.create(new float[] {0.5f, 4}, new Shape(2, 1, 1));

        NDArray gated = module.gatedDelta(parameterStore, x, false, gate);

        assertThat(gated.getShape()).isEqualTo(new Shape(2, 1, 2));
        assertThat(gated.toFloatArray()).containsExactly(2.5f, 11, -4, 2);
    }

    @Test
    void testGatedDeltaGivesTheGateAndTheFactorsTheGradientsOfTheGatedResult() {
        LoraModule module = handSetModule(1.5f, false);
        NDArray x = batchManager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 1, 3));
        NDArray gate = batchManager.create(new float[] {0.5f, 4}, new Shape(2, 1, 1));
        NDArray weights = batchManager.create(new float[] {1, -2, 3, 0.5f}, new Shape(2, 1, 2));

        float[][] fused = gradients(module, gate, () -> module.gatedDelta(parameterStore, x, true, gate).mul(weights).sum());
        float[][] plain = gradients(module, gate, () -> module.delta(parameterStore, x, true).mul(gate).mul(weights).sum());

        for (int index = 0; index < plain.length; index++) {
            assertThat(fused[index]).containsExactly(plain[index]);
        }
    }

    /** The gradients of {@code loss} with respect to the gate, lora_A and lora_B, in that order. */
    private static float[][] gradients(LoraModule module, NDArray gate, java.util.function.Supplier<NDArray> loss) {
        gate.setRequiresGradient(true);
        parameter(module, LoraModule.LORA_A_WEIGHT).getArray().setRequiresGradient(true);
        parameter(module, LoraModule.LORA_B_WEIGHT).getArray().setRequiresGradient(true);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            collector.backward(loss.get());
        }
        NDArray[] arrays = {gate, parameter(module, LoraModule.LORA_A_WEIGHT).getArray(), parameter(module, LoraModule.LORA_B_WEIGHT).getArray()};
        float[][] gradients = new float[arrays.length][];
        for (int index = 0; index < arrays.length; index++) {
            NDArray gradient = arrays[index].getGradient();
            gradients[index] = gradient.toFloatArray();
            gradient.subi(gradient);
        }
        return gradients;
    }

    @Test
    void testGatedDeltaWithLoraBiasGatesTheBiasToo() {
        LoraModule module = handSetModule(1, true);
        set(module, LoraModule.LORA_B_BIAS, 0.5f, -2);
        NDArray x = batchManager.create(new float[] {1, 2, 3}, new Shape(1, 3));
        NDArray gate = batchManager.create(new float[] {0.5f}, new Shape(1, 1));

        assertThat(module.gatedDelta(parameterStore, x, false, gate).toFloatArray()).containsExactly(2.75f, 10);
    }

    @Test
    void testDeltaOfBatchedSequencesMatchesLoops() {
        int in = 5;
        int out = 4;
        int rank = 3;
        LoraModule module = module(site(in, out), rank, 1, 0, LoraInitialization.LINEAR_DEFAULT, false);
        float[] down = values(module, LoraModule.LORA_A_WEIGHT);
        float[] up = values(module, LoraModule.LORA_B_WEIGHT);
        NDArray x = batchManager.randomUniform(-1, 1, new Shape(2, 3, in));
        float[] input = x.toFloatArray();

        float[] delta = module.delta(parameterStore, x, false).toFloatArray();

        assertThat(delta).hasSize(2 * 3 * out);
        for (int row = 0; row < 6; row++) {
            for (int o = 0; o < out; o++) {
                double expected = 0;
                for (int k = 0; k < rank; k++) {
                    double hidden = 0;
                    for (int i = 0; i < in; i++) {
                        hidden += down[k * in + i] * input[row * in + i];
                    }
                    expected += up[o * rank + k] * hidden;
                }
                assertThat((double) delta[row * out + o]).isCloseTo(expected, within(1e-5));
            }
        }
    }

    @Test
    void testDropoutOnlyWhileTraining() {
        LoraModule module = module(site(8, 8), 8, 1, 0.5f, LoraInitialization.KAIMING_UNIFORM, false);
        parameter(module, LoraModule.LORA_A_WEIGHT).getArray().set(identity(8));
        parameter(module, LoraModule.LORA_B_WEIGHT).getArray().set(identity(8));
        NDArray x = batchManager.ones(new Shape(32, 8));

        // With A = B = I the delta is dropout(x): inverted dropout keeps an element as 1/(1-p) = 2 or zeroes it.
        float[] training = module.delta(parameterStore, x, true).toFloatArray();
        assertThat(training).containsOnly(0f, 2f).contains(0f, 2f);
        assertThat(module.delta(parameterStore, x, false).toFloatArray()).containsOnly(1f);

        LoraModule withoutDropout = module(site(8, 8), 8, 1, 0, LoraInitialization.KAIMING_UNIFORM, false);
        parameter(withoutDropout, LoraModule.LORA_A_WEIGHT).getArray().set(identity(8));
        parameter(withoutDropout, LoraModule.LORA_B_WEIGHT).getArray().set(identity(8));
        assertThat(withoutDropout.delta(parameterStore, x, true).toFloatArray()).containsOnly(1f);
    }

    @Test
    void testDeltaKeepsOnlyItsResult() {
        LoraModule module = module(site(16, 8), 4, 1, 0.25f, LoraInitialization.LINEAR_DEFAULT, true);
        modelManager.cap();
        NDArray x = batchManager.randomNormal(new Shape(2, 5, 16));
        int before = ((BaseNDManager) batchManager).getManagedArrays().size();

        NDArray delta = module.delta(parameterStore, x, true);

        assertThat(delta.getManager()).isSameAs(batchManager);
        assertThat(((BaseNDManager) batchManager).getManagedArrays()).hasSize(before + 1);
        assertThat(x.getManager()).isSameAs(batchManager);
    }

    @Test
    void testFreshAdapterIsANoOp() {
        for (LoraInitialization initialization : new LoraInitialization[] {LoraInitialization.KAIMING_UNIFORM, LoraInitialization.GAUSSIAN}) {
            LoraModule module = module(site(16, 8), 4, 2, 0, initialization, true);
            NDArray x = batchManager.randomNormal(new Shape(3, 16));
            assertThat(maximumAbsolute(module.delta(parameterStore, x, false).toFloatArray())).isZero();
        }
    }

    @Test
    void testRejectsInputOfTheWrongWidth() {
        LoraModule module = module(site(16, 8), 4, 1, 0, LoraInitialization.KAIMING_UNIFORM, false);
        NDArray x = batchManager.ones(new Shape(2, 15));
        assertThatThrownBy(() -> module.delta(parameterStore, x, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("LoRA at model.layers.0.self_attn.q_proj: input has shape (2, 15), but its last dimension must be in=16");
    }

    @Test
    void testMergeAddsScaledProductAndUnmergeRestores() {
        int in = 5;
        int out = 6;
        int rank = 3;
        float scaling = 1.5f;
        LoraModule module = module(site(in, out), rank, scaling, 0, LoraInitialization.LINEAR_DEFAULT, false);
        float[] down = values(module, LoraModule.LORA_A_WEIGHT);
        float[] up = values(module, LoraModule.LORA_B_WEIGHT);
        NDArray weight = batchManager.randomUniform(-1, 1, new Shape(out, in));
        NDArray bias = batchManager.randomUniform(-1, 1, new Shape(out));
        float[] originalWeight = weight.toFloatArray();
        float[] originalBias = bias.toFloatArray();

        LinearWeights merged = module.merge(new LinearWeights(weight, bias));

        float[] mergedWeight = merged.weight().toFloatArray();
        double largestChange = 0;
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double product = 0;
                for (int k = 0; k < rank; k++) {
                    product += up[o * rank + k] * down[k * in + i];
                }
                double expected = originalWeight[o * in + i] + scaling * product;
                assertThat((double) mergedWeight[o * in + i]).isCloseTo(expected, within(1e-5));
                largestChange = Math.max(largestChange, Math.abs(scaling * product));
            }
        }
        assertThat(largestChange).isGreaterThan(0.05);
        assertThat(merged.weight()).isNotSameAs(weight);
        assertThat(merged.bias()).isNotSameAs(bias);
        assertThat(merged.bias().toFloatArray()).containsExactly(originalBias);
        assertThat(weight.toFloatArray()).containsExactly(originalWeight);
        assertThat(bias.toFloatArray()).containsExactly(originalBias);

        LinearWeights restored = module.unmerge(merged);

        assertThat(restored.weight().toFloatArray()).containsExactly(originalWeight, within(1e-6f));
        assertThat(restored.bias().toFloatArray()).containsExactly(originalBias);
        assertThat(merged.weight().toFloatArray()).containsExactly(mergedWeight);
    }

    @Test
    void testMergeOfLoraBiasAddsScaledBias() {
        LoraModule module = handSetModule(0.5f, true);
        set(module, LoraModule.LORA_B_BIAS, 4, -2);
        NDArray weight = batchManager.zeros(new Shape(2, 3));
        NDArray bias = batchManager.create(new float[] {1, 1});

        LinearWeights merged = module.merge(new LinearWeights(weight, bias));

        // B·A = [[1, 2, 0], [3, -1, 7]]; halved, as s = 0.5.
        assertThat(merged.weight().toFloatArray()).containsExactly(0.5f, 1, 0, 1.5f, -0.5f, 3.5f);
        assertThat(merged.bias().toFloatArray()).containsExactly(3, 0);
        LinearWeights restored = module.unmerge(merged);
        assertThat(restored.weight().toFloatArray()).containsExactly(0, 0, 0, 0, 0, 0);
        assertThat(restored.bias().toFloatArray()).containsExactly(1, 1);
    }

    @Test
    void testMergeOfLoraBiasWithoutBaseBiasFails() {
        LoraModule module = module(site(3, 2), 2, 1, 0, LoraInitialization.KAIMING_UNIFORM, true);
        NDArray weight = batchManager.zeros(new Shape(2, 3));
        assertThatThrownBy(() -> module.merge(new LinearWeights(weight, null)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("LoRA at model.layers.0.self_attn.q_proj: impossible to merge the bias update because the base layer has no bias");
    }

    @Test
    void testMergeKeepsHalfPrecisionWeights() {
        LoraModule module = handSetModule(2, false);
        NDArray weight = batchManager.create(new float[] {0.25f, 0, 0, 0, 0, -0.125f}, new Shape(2, 3)).toType(DataType.FLOAT16, false);

        LinearWeights merged = module.merge(new LinearWeights(weight, null));

        assertThat(merged.weight().getDataType()).isEqualTo(DataType.FLOAT16);
        assertThat(merged.bias()).isNull();
        assertThat(merged.weight().toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(2.25f, 4, 0, 6, -2, 13.875f);
        assertThat(module.unmerge(merged).weight().toType(DataType.FLOAT32, false).toFloatArray())
                .containsExactly(0.25f, 0, 0, 0, 0, -0.125f);
    }

    @Test
    void testMergeKeepsOnlyItsResults() {
        LoraModule module = module(site(16, 8), 4, 1, 0, LoraInitialization.LINEAR_DEFAULT, true);
        modelManager.cap();
        NDArray weight = batchManager.randomNormal(new Shape(8, 16));
        NDArray bias = batchManager.randomNormal(new Shape(8));
        int before = ((BaseNDManager) batchManager).getManagedArrays().size();

        LinearWeights merged = module.merge(new LinearWeights(weight, bias));

        assertThat(((BaseNDManager) batchManager).getManagedArrays()).hasSize(before + 2);
        assertThat(merged.weight().getManager()).isSameAs(batchManager);
        assertThat(merged.bias().getManager()).isSameAs(batchManager);
        assertThat(weight.getManager()).isSameAs(batchManager);
    }

    @Test
    void testMergeRejectsWeightOfTheWrongShape() {
        LoraModule module = module(site(3, 2), 2, 1, 0, LoraInitialization.KAIMING_UNIFORM, false);
        NDArray weight = batchManager.zeros(new Shape(3, 2));
        assertThatThrownBy(() -> module.merge(new LinearWeights(weight, null)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("LoRA at model.layers.0.self_attn.q_proj: weight has shape (3, 2), expected (2, 3)");
    }

    @Test
    void testKaimingUniformInitialization() {
        LoraModule module = module(site(256, 64), 8, 1, 0, LoraInitialization.KAIMING_UNIFORM, true);
        float[] down = values(module, LoraModule.LORA_A_WEIGHT);
        double bound = 1 / Math.sqrt(256);

        assertThat(down).hasSize(8 * 256);
        assertThat(maximumAbsolute(down)).isLessThanOrEqualTo(bound).isGreaterThan(0.9 * bound);
        assertThat(standardDeviation(down)).isCloseTo(bound / Math.sqrt(3), within(0.1 * bound / Math.sqrt(3)));
        assertThat(values(module, LoraModule.LORA_B_WEIGHT)).hasSize(64 * 8).containsOnly(0f);
        assertThat(values(module, LoraModule.LORA_B_BIAS)).hasSize(64).containsOnly(0f);
    }

    @Test
    void testGaussianInitialization() {
        LoraModule module = module(site(256, 64), 8, 1, 0, LoraInitialization.GAUSSIAN, false);
        float[] down = values(module, LoraModule.LORA_A_WEIGHT);

        assertThat(standardDeviation(down)).isCloseTo(1.0 / 8, within(0.1 / 8));
        assertThat(mean(down)).isCloseTo(0, within(0.01));
        assertThat(values(module, LoraModule.LORA_B_WEIGHT)).containsOnly(0f);
    }

    @Test
    void testLinearDefaultInitialization() {
        LoraModule module = module(site(256, 64), 8, 1, 0, LoraInitialization.LINEAR_DEFAULT, true);
        double downBound = 1 / Math.sqrt(256);
        double upBound = 1 / Math.sqrt(8);

        assertThat(maximumAbsolute(values(module, LoraModule.LORA_A_WEIGHT))).isLessThanOrEqualTo(downBound).isGreaterThan(0.9 * downBound);
        float[] up = values(module, LoraModule.LORA_B_WEIGHT);
        assertThat(maximumAbsolute(up)).isLessThanOrEqualTo(upBound).isGreaterThan(0.9 * upBound);
        assertThat(standardDeviation(up)).isCloseTo(upBound / Math.sqrt(3), within(0.1 * upBound / Math.sqrt(3)));
        float[] upBias = values(module, LoraModule.LORA_B_BIAS);
        assertThat(maximumAbsolute(upBias)).isLessThanOrEqualTo(upBound).isGreaterThan(0.5 * upBound);
    }

    @Test
    void testSaveStateUsesPeftKeySuffixes() {
        Map<String, NDArray> plain = module(site(16, 8), 4, 1, 0, LoraInitialization.KAIMING_UNIFORM, false).saveState(batchManager);
        assertThat(plain.keySet()).containsExactly("lora_A.weight", "lora_B.weight");
        assertThat(plain.get("lora_A.weight").getShape()).isEqualTo(new Shape(4, 16));
        assertThat(plain.get("lora_B.weight").getShape()).isEqualTo(new Shape(8, 4));

        Map<String, NDArray> withBias = module(site(16, 8), 4, 1, 0, LoraInitialization.KAIMING_UNIFORM, true).saveState(batchManager);
        assertThat(withBias.keySet()).containsExactly("lora_A.weight", "lora_B.weight", "lora_B.bias");
        assertThat(withBias.get("lora_B.bias").getShape()).isEqualTo(new Shape(8));
    }

    @Test
    void testOutputShapeReplacesTheLastDimension() {
        LoraModule module = LoraModule.builder(site(16, 8)).setRank(4).build();
        assertThat(module.getOutputShapes(new Shape[] {new Shape(2, 7, 16)})).containsExactly(new Shape(2, 7, 8));
    }

    /** A 3→2 module of rank 2 with A = [[1, 0, 2], [0, 1, -1]] and B = [[1, 2], [3, -1]]. */
    private LoraModule handSetModule(float scaling, boolean loraBias) {
        LoraModule module = module(site(3, 2), 2, scaling, 0, LoraInitialization.KAIMING_UNIFORM, loraBias);
        set(module, LoraModule.LORA_A_WEIGHT, 1, 0, 2, 0, 1, -1);
        set(module, LoraModule.LORA_B_WEIGHT, 1, 2, 3, -1);
        return module;
    }

    private LoraModule module(LinearSite site, int rank, float scaling, float dropout, LoraInitialization initialization, boolean loraBias) {
        LoraModule module = LoraModule.builder(site)
                .setRank(rank)
                .optScaling(scaling)
                .optDropout(dropout)
                .optInitialization(initialization)
                .optUpBias(loraBias)
                .build();
        module.initialize(modelManager, DataType.FLOAT32, new Shape(1, site.inFeatures()));
        return module;
    }

    private static LinearSite site(int in, int out) {
        return new LinearSite("model.layers.0.self_attn.q_proj", 0, in, out, false);
    }

    private static Parameter parameter(LoraModule module, String name) {
        return module.getParameters().get(name);
    }

    private static void set(LoraModule module, String name, float... values) {
        parameter(module, name).getArray().set(values);
    }

    private static float[] values(LoraModule module, String name) {
        return parameter(module, name).getArray().toFloatArray();
    }

    private static float[] identity(int size) {
        float[] values = new float[size * size];
        for (int i = 0; i < size; i++) {
            values[i * size + i] = 1;
        }
        return values;
    }
}
