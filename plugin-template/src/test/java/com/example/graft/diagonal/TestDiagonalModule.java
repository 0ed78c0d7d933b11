package com.example.graft.diagonal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

final class TestDiagonalModule {
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
    void testDeltaOfWideLayerScalesTheFirstInputs() {
        // in = 4 > out = 3: k = 3, the fourth input is ignored.
        DiagonalModule module = module(4, 3, 0, 2, -1, 0.5f);
        NDArray x = batchManager.create(new float[] {1, 2, 3, 4, -1, 0, 8, 9}, new Shape(2, 4));

        NDArray delta = module.delta(parameterStore, x, false);

        assertThat(delta.getShape()).isEqualTo(new Shape(2, 3));
        // within(0f) compares values, so the -0.0 of -1 · 0 equals 0.
        assertThat(delta.toFloatArray()).containsExactly(new float[] {2, -2, 1.5f, -2, 0, 4}, within(0f));
    }

    @Test
    void testDeltaOfTallLayerPadsWithZeros() {
        // in = 2 < out = 3: k = 2, the third output gets nothing.
        DiagonalModule module = module(2, 3, 0, 3, -2);
        NDArray x = batchManager.create(new float[] {1, 2, 5, -1, 0.5f, 4}, new Shape(1, 3, 2));

        NDArray delta = module.delta(parameterStore, x, true);

        assertThat(delta.getShape()).isEqualTo(new Shape(1, 3, 3));
        assertThat(delta.toFloatArray()).containsExactly(new float[] {3, -4, 0, 15, 2, 0, 1.5f, -8, 0}, within(0f));
    }

    @Test
    void testDeltaEqualsMultiplyingByTheMergedDelta() {
        for (int[] inOut : new int[][] {{5, 3}, {3, 5}}) {
            DiagonalModule module = module(inOut[0], inOut[1], 0.1f);
            NDArray x = batchManager.randomNormal(new Shape(4, inOut[0]));
            NDArray zeroWeight = batchManager.zeros(new Shape(inOut[1], inOut[0]));

            NDArray diagonalMatrix = module.merge(new LinearWeights(zeroWeight, null)).weight();
            float[] expected = x.matMul(diagonalMatrix.transpose()).toFloatArray();

            assertThat(module.delta(parameterStore, x, false).toFloatArray()).containsExactly(expected, within(1e-6f));
            assertThat(largestAbsolute(expected)).isGreaterThan(1e-3);
        }
    }

    @Test
    void testDeltaKeepsOnlyItsResult() {
        DiagonalModule module = module(4, 6, 0.1f);
        modelManager.cap();
        NDArray x = batchManager.randomNormal(new Shape(2, 4));
        int before = ((BaseNDManager) batchManager).getManagedArrays().size();

        NDArray delta = module.delta(parameterStore, x, false);

        assertThat(delta.getManager()).isSameAs(batchManager);
        assertThat(((BaseNDManager) batchManager).getManagedArrays()).hasSize(before + 1);
    }

    @Test
    void testMergeAddsTheDiagonalAndUnmergeRemovesIt() {
        DiagonalModule module = module(3, 2, 0, 4, -2);
        NDArray weight = batchManager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
        NDArray bias = batchManager.create(new float[] {0.5f, -0.5f});

        LinearWeights merged = module.merge(new LinearWeights(weight, bias));

        assertThat(merged.weight().toFloatArray()).containsExactly(5, 2, 3, 4, 3, 6);
        assertThat(merged.bias().toFloatArray()).containsExactly(0.5f, -0.5f);
        assertThat(merged.bias()).isNotSameAs(bias);
        assertThat(weight.toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        LinearWeights restored = module.unmerge(merged);
        assertThat(restored.weight().toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(restored.bias().toFloatArray()).containsExactly(0.5f, -0.5f);
    }

    @Test
    void testMergeIntoTallHalfPrecisionWeight() {
        DiagonalModule module = module(2, 3, 0, 0.5f, 0.25f);
        NDArray weight = batchManager.zeros(new Shape(3, 2), DataType.FLOAT16);

        LinearWeights merged = module.merge(new LinearWeights(weight, null));

        assertThat(merged.weight().getDataType()).isEqualTo(DataType.FLOAT16);
        assertThat(merged.weight().toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(0.5f, 0, 0, 0.25f, 0, 0);
        assertThat(merged.bias()).isNull();
    }

    @Test
    void testZeroInitializationIsTheIdentity() {
        DiagonalModule module = module(8, 8, 0);
        NDArray x = batchManager.randomNormal(new Shape(3, 8));

        assertThat(largestAbsolute(module.delta(parameterStore, x, false).toFloatArray())).isZero();
    }

    @Test
    void testNormalInitializationHasTheRequestedSpread() {
        DiagonalModule module = module(4096, 4096, 0.5f);
        float[] values = module.getParameters().get(DiagonalModule.DIAGONAL).getArray().toFloatArray();
        double sumOfSquares = 0;
        for (float value : values) {
            sumOfSquares += value * value;
        }

        assertThat(values).hasSize(4096);
        assertThat(Math.sqrt(sumOfSquares / values.length)).isCloseTo(0.5, within(0.05));
    }

    @Test
    void testSaveStateKeyAndShape() {
        Map<String, NDArray> state = module(6, 4, 0).saveState(batchManager);

        assertThat(state.keySet()).containsExactly("diagonal_d");
        assertThat(state.get("diagonal_d").getShape()).isEqualTo(new Shape(4));
    }

    private static double largestAbsolute(float[] values) {
        double largest = 0;
        for (float value : values) {
            largest = Math.max(largest, Math.abs(value));
        }
        return largest;
    }

    /** A module for an {@code in → out} site, initialized; its diagonal is set to {@code values} when given. */
    private DiagonalModule module(int in, int out, float initStd, float... values) {
        DiagonalModule module = new DiagonalModule(new LinearSite("model.layers.0.self_attn.q_proj", 0, in, out, false), initStd);
        module.initialize(modelManager, DataType.FLOAT32, new Shape(1, in));
        if (values.length > 0) {
            module.getParameters().get(DiagonalModule.DIAGONAL).getArray().set(values);
        }
        return module;
    }
}
