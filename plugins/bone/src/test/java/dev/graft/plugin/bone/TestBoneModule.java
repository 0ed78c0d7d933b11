package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
 * Bone's module math against hand computations on a 5→3 site with r=2, so the input has two full blocks and a
 * remainder of one column: {@code bone_block = [[1 2 3] [4 5 6]]}.
 */
final class TestBoneModule {
    private static final LinearSite SITE = new LinearSite("layer.proj", 0, 5, 3, false);

    private NDManager manager;
    private BoneModule module;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        module = BoneModule.builder(SITE).setRank(2).build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 5));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testFreshBlockIsZero() {
        assertThat(module.getParameters().get(BoneModule.BONE_BLOCK).getArray().getShape()).isEqualTo(new Shape(2, 3));
        assertThat(module.getParameters().get(BoneModule.BONE_BLOCK).getArray().toFloatArray()).containsOnly(0f);
    }

    @Test
    void testRandomStartIsKaimingUniformOverOut() {
        BoneModule random = BoneModule.builder(new LinearSite("wide", 0, 8, 400, false)).setRank(4).optRandomStart(true).build();
        random.initialize(manager, DataType.FLOAT32, new Shape(1, 8));
        float largest = 0;
        for (float value : random.getParameters().get(BoneModule.BONE_BLOCK).getArray().toFloatArray()) {
            largest = Math.max(largest, Math.abs(value));
        }
        // PEFT's kaiming_uniform_(a=√5) on an (r, out) tensor: fan-in out = 400, bound 1/√400 = 0.05
        assertThat(largest).isLessThanOrEqualTo(0.05f).isGreaterThan(0.045f);
    }

    @Test
    void testDeltaPadsSumsBlocksAndMultipliesByTheBlock() {
        setBlock();
        NDArray x = manager.create(new float[] {1, 2, 3, 4, 5, 5, 4, 3, 2, 1}, new Shape(2, 1, 5));
        // [1 2 3 4 5 0] → [1 2] + [3 4] + [5 0] = [9 6] → [9·1 + 6·4, 9·2 + 6·5, 9·3 + 6·6] = [33 48 63]
        // [5 4 3 2 1 0] → [9 6] as well
        NDArray delta = module.delta(new ParameterStore(manager, false), x, false);
        assertThat(delta.getShape()).isEqualTo(new Shape(2, 1, 3));
        assertThat(delta.toFloatArray()).containsExactly(33, 48, 63, 33, 48, 63);
        assertThat(module.scaling()).isEqualTo(1f);
    }

    @Test
    void testMergeAddsTransposedBlockToEveryColumnBlockAndItsHeadToTheRemainder() {
        setBlock();
        LinearWeights merged = module.merge(new LinearWeights(manager.zeros(new Shape(3, 5)), null));
        // bone_blockᵀ = [[1 4] [2 5] [3 6]] in columns 0-1 and 2-3; its first column in column 4
        assertThat(merged.weight().toFloatArray()).containsExactly(
                1, 4, 1, 4, 1,
                2, 5, 2, 5, 2,
                3, 6, 3, 6, 3);
        NDArray x = manager.create(new float[] {1, 2, 3, 4, 5}, new Shape(5, 1));
        assertThat(merged.weight().matMul(x).toFloatArray()).as("merged weight gives forward's delta").containsExactly(33, 48, 63);
        assertThat(module.unmerge(merged).weight().toFloatArray()).containsOnly(0f);
    }

    @Test
    void testDivisibleWidthHasNoRemainder() {
        BoneModule even = BoneModule.builder(new LinearSite("even", 0, 4, 2, false)).setRank(2).build();
        even.initialize(manager, DataType.FLOAT32, new Shape(1, 4));
        even.getParameters().get(BoneModule.BONE_BLOCK).getArray().set(new float[] {1, 2, 3, 4});
        LinearWeights merged = even.merge(new LinearWeights(manager.zeros(new Shape(2, 4)), null));
        assertThat(merged.weight().toFloatArray()).containsExactly(1, 3, 1, 3, 2, 4, 2, 4);
    }

    @Test
    void testWrongInputWidthIsRejected() {
        NDArray x = manager.create(new float[] {1, 2, 3, 4}, new Shape(1, 4));
        assertThatThrownBy(() -> module.delta(new ParameterStore(manager, false), x, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layer.proj").hasMessageContaining("in=5");
    }

    private void setBlock() {
        module.getParameters().get(BoneModule.BONE_BLOCK).getArray().set(new float[] {1, 2, 3, 4, 5, 6});
    }
}
