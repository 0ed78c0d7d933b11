package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

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

/**
 * Bat's math against hand computations on a 4→4 site with r=2: {@code W = [[1 2 3 4] [5 6 7 8] [9 10 11 12]
 * [13 14 15 16]]}, so {@code W_00 = [[1 2] [5 6]]}, {@code W_01 = [[3 4] [7 8]]}, {@code W_10 = [[9 10] [13 14]]},
 * {@code W_11 = [[11 12] [15 16]]}; {@code B_0 = [[1 0] [0 2]]} (output block 0), {@code B_1 = [[0 1] [2 0]]}.
 */
final class TestBatModule {
    private static final LinearSite SITE = new LinearSite("layer.proj", 0, 4, 4, false);
    private static final float[] WEIGHT = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    private NDManager manager;
    private BatModule module;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        module = new BatModule(SITE, 2);
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 4));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testFreshBlocksAreZeroAndTransformNothing() {
        assertThat(module.getParameters().get(BatModule.BONE_BLOCK).getArray().getShape()).isEqualTo(new Shape(2, 2, 2));
        NDArray delta = module.weightDelta(new ParameterStore(manager, false), weight(), false);
        assertThat(delta.toFloatArray()).containsOnly(0f);
    }

    @Test
    void testWeightDeltaIsBlockTimesOutputBlockMatrixPlusIt() {
        setBlocks();
        // ΔW_00 = W_00·B_0 + B_0 = [[2 4] [5 14]];   ΔW_01 = W_01·B_0 + B_0 = [[4 8] [7 18]]
        // ΔW_10 = W_10·B_1 + B_1 = [[20 10] [30 13]]; ΔW_11 = W_11·B_1 + B_1 = [[24 12] [34 15]]
        NDArray delta = module.weightDelta(new ParameterStore(manager, false), weight(), false);
        assertThat(delta.toFloatArray()).containsExactly(
                2, 4, 4, 8,
                5, 14, 7, 18,
                20, 10, 24, 12,
                30, 13, 34, 15);
    }

    @Test
    void testMergeAddsDeltaAndUnmergeInvertsIt() {
        setBlocks();
        LinearWeights merged = module.merge(new LinearWeights(weight(), null));
        assertThat(merged.weight().toFloatArray()).containsExactly(
                3, 6, 7, 12,
                10, 20, 14, 26,
                29, 20, 35, 24,
                43, 27, 49, 31);
        float[] restored = module.unmerge(merged).weight().toFloatArray();
        for (int index = 0; index < WEIGHT.length; index++) {
            assertThat(restored[index]).as("restored W[%d]", index).isCloseTo(WEIGHT[index], within(1e-5f));
        }
    }

    @Test
    void testSingularBlockCannotBeUnmerged() {
        // I + B_1 = [[1 1] [1 1]] is singular, so the merged weight does not determine W
        module.getParameters().get(BatModule.BONE_BLOCK).getArray().set(new float[] {1, 0, 0, 2, 0, 1, 1, 0});
        LinearWeights merged = module.merge(new LinearWeights(weight(), null));
        assertThatThrownBy(() -> module.unmerge(merged))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("layer.proj").hasMessageContaining("singular");
    }

    @Test
    void testSitesThatDoNotDivideIntoBlocksAreRejected() {
        assertThatThrownBy(() -> new BatModule(new LinearSite("odd", 0, 6, 4, false), 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("odd").hasMessageContaining("multiples of r=4");
    }

    private NDArray weight() {
        return manager.create(WEIGHT, new Shape(4, 4));
    }

    private void setBlocks() {
        module.getParameters().get(BatModule.BONE_BLOCK).getArray().set(new float[] {1, 0, 0, 2, 0, 1, 2, 0});
    }
}
