package dev.graft.plugin.ia3;

import static dev.graft.tck.ArrayAssertions.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.ScalingLinearModule;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IA³'s module math against hand computations on a 3→2 site with a bias: {@code W = [[1 2 3] [4 5 6]]},
 * {@code b = [10 20]}.
 */
final class TestIa3Module {
    private static final LinearSite SITE = new LinearSite("layer.proj", 0, 3, 2, true);

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testFreshModulesAreOnesOfPeftShapes() {
        Ia3Module output = module(false);
        Ia3Module input = module(true);
        assertThat(output.getParameters().get(Ia3Module.IA3_L).getArray().getShape()).isEqualTo(new Shape(2, 1));
        assertThat(output.getParameters().get(Ia3Module.IA3_L).getArray().toFloatArray()).containsExactly(1f, 1f);
        assertThat(input.getParameters().get(Ia3Module.IA3_L).getArray().getShape()).isEqualTo(new Shape(1, 3));
        assertThat(input.getParameters().get(Ia3Module.IA3_L).getArray().toFloatArray()).containsExactly(1f, 1f, 1f);
        assertThat(output.side()).isEqualTo(ScalingLinearModule.Side.OUTPUT);
        assertThat(input.side()).isEqualTo(ScalingLinearModule.Side.INPUT);
    }

    @Test
    void testRandomInitialisationIsNotOnes() {
        Ia3Module module = new Ia3Module(SITE, false, false);
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        assertThat(module.getParameters().get(Ia3Module.IA3_L).getArray().toFloatArray()).doesNotContain(1f);
    }

    @Test
    void testOutputScalingMergesIntoRowsAndBias() {
        Ia3Module module = module(false);
        module.getParameters().get(Ia3Module.IA3_L).getArray().set(new float[] {2, -0.5f});
        NDArray x = manager.create(new float[] {1, 1, 1}, new Shape(1, 3));
        assertThat(module.scale(new ParameterStore(manager, false), x, false).toFloatArray()).containsExactly(2f, -0.5f);
        LinearWeights merged = module.merge(base());
        assertThat(merged.weight().toFloatArray()).containsExactly(2, 4, 6, -2, -2.5f, -3);
        assertThat(merged.bias().toFloatArray()).containsExactly(20f, -10f);
        // the merged layer on x = [1 1 1] gives (W·x + b) ⊙ l = [16·2, 35·(−0.5)]
        assertThat(merged.weight().matMul(x.transpose()).reshape(-1).add(merged.bias()).toFloatArray()).containsExactly(32f, -17.5f);
        LinearWeights restored = module.unmerge(merged);
        assertClose(restored.weight().toFloatArray(), new float[] {1, 2, 3, 4, 5, 6}, 1e-5f);
        assertClose(restored.bias().toFloatArray(), new float[] {10, 20}, 1e-5f);
    }

    @Test
    void testInputScalingMergesIntoColumnsAndLeavesBias() {
        Ia3Module module = module(true);
        module.getParameters().get(Ia3Module.IA3_L).getArray().set(new float[] {2, 0.5f, -1});
        NDArray x = manager.create(new float[] {1, 1, 1}, new Shape(1, 3));
        assertThat(module.scale(new ParameterStore(manager, false), x, false).toFloatArray()).containsExactly(2f, 0.5f, -1f);
        LinearWeights merged = module.merge(base());
        assertThat(merged.weight().toFloatArray()).containsExactly(2, 1, -3, 8, 2.5f, -6);
        assertThat(merged.bias().toFloatArray()).containsExactly(10f, 20f);
        LinearWeights restored = module.unmerge(merged);
        assertClose(restored.weight().toFloatArray(), new float[] {1, 2, 3, 4, 5, 6}, 1e-5f);
        assertThat(restored.bias().toFloatArray()).containsExactly(10f, 20f);
    }

    @Test
    void testUnmergeDividesByScalePlusEpsilon() {
        Ia3Module module = module(false);
        module.getParameters().get(Ia3Module.IA3_L).getArray().set(new float[] {1e-3f, 1});
        LinearWeights restored = module.unmerge(base());
        // 1 / (1e-3 + 1e-8) = 999.99, not 1000
        assertThat(restored.weight().toFloatArray()[0]).isCloseTo((float) (1 / (1e-3 + 1e-8)), within(1e-3f));
        assertThat(restored.weight().toFloatArray()[0]).isLessThan(1000f);
    }

    private Ia3Module module(boolean feedForward) {
        Ia3Module module = new Ia3Module(SITE, feedForward, true);
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        return module;
    }

    private LinearWeights base() {
        return new LinearWeights(manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3)), manager.create(new float[] {10, 20}));
    }
}
