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
 * MiSS's three variants ({@code miss_block}) against hand computations, as PEFT's {@code MissLinear} computes them:
 * the default and mini add {@code x̃·block} (mini's {@code (r, mini_r)} block repeated along the output axis), bat
 * transforms the weight blockwise.
 */
final class TestMissModules {
    private static final String MISS_BLOCK = BlockFamily.MISS.parameterName();

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
    void testDefaultIsBonesMathUnderTheNameMissBlock() {
        BoneModule module = miss(new LinearSite("layer.proj", 0, 5, 3, false), 2, 0);
        assertThat(module.getParameters().keys()).containsExactly(MISS_BLOCK);
        assertThat(module.getParameters().get(MISS_BLOCK).getArray().getShape()).isEqualTo(new Shape(2, 3));
        module.getParameters().get(MISS_BLOCK).getArray().set(new float[] {1, 2, 3, 4, 5, 6});
        // [1 2 3 4 5 0] → [1 2] + [3 4] + [5 0] = [9 6] → [9·1 + 6·4, 9·2 + 6·5, 9·3 + 6·6]
        NDArray x = manager.create(new float[] {1, 2, 3, 4, 5}, new Shape(1, 5));
        assertClose(module.delta(new ParameterStore(manager, false), x, false).toFloatArray(), new float[] {33, 48, 63}, 1e-5);
        LinearWeights merged = module.merge(new LinearWeights(manager.zeros(new Shape(3, 5)), null));
        assertClose(merged.weight().toFloatArray(), new float[] {
            1, 4, 1, 4, 1,
            2, 5, 2, 5, 2,
            3, 6, 3, 6, 3}, 1e-5);
        assertThat(module.toString()).contains("MiSS");
    }

    @Test
    void testMiniRepeatsItsBlockAlongTheOutputAxis() {
        BoneModule module = miss(new LinearSite("layer.proj", 0, 5, 4, false), 2, 2);
        assertThat(module.getParameters().get(MISS_BLOCK).getArray().getShape()).isEqualTo(new Shape(2, 2));
        module.getParameters().get(MISS_BLOCK).getArray().set(new float[] {1, 2, 3, 4});
        // block [[1 2] [3 4]] repeated twice along out: [[1 2 1 2] [3 4 3 4]]; x̃ = [9 6] → [9 + 18, 18 + 24, 27, 42]
        NDArray x = manager.create(new float[] {1, 2, 3, 4, 5, 5, 4, 3, 2, 1}, new Shape(2, 5));
        assertClose(module.delta(new ParameterStore(manager, false), x, false).toFloatArray(), new float[] {27, 42, 27, 42, 27, 42, 27, 42}, 1e-5);
        // ΔW[o][c] = B[c mod 2][o mod 2]
        LinearWeights merged = module.merge(new LinearWeights(manager.zeros(new Shape(4, 5)), null));
        assertClose(merged.weight().toFloatArray(), new float[] {
            1, 3, 1, 3, 1,
            2, 4, 2, 4, 2,
            1, 3, 1, 3, 1,
            2, 4, 2, 4, 2}, 1e-5);
        assertThat(module.toString()).contains("mini_r=2");
    }

    @Test
    void testMiniMergeRoundTripRestoresTheWeight() {
        BoneModule module = miss(new LinearSite("layer.proj", 0, 7, 6, false), 3, 2);
        module.getParameters().get(MISS_BLOCK).getArray().set(new float[] {0.5f, -1.25f, 2, 0.75f, -0.5f, 1.5f});
        NDArray weight = manager.randomNormal(new Shape(6, 7));
        NDArray bias = manager.randomNormal(new Shape(6));
        LinearWeights restored = module.unmerge(module.merge(new LinearWeights(weight, bias)));
        assertClose(restored.weight().toFloatArray(), weight.toFloatArray(), 1e-4);
        assertThat(restored.bias().toFloatArray()).containsExactly(bias.toFloatArray());
        NDArray x = manager.randomNormal(new Shape(3, 7));
        NDArray merged = module.merge(new LinearWeights(weight, null)).weight();
        assertClose(x.matMul(merged.transpose()).toFloatArray(),
                x.matMul(weight.transpose()).add(module.delta(new ParameterStore(manager, false), x, false)).toFloatArray(), 1e-4);
    }

    @Test
    void testMiniRankMustDivideOut() {
        assertThatThrownBy(() -> miss(new LinearSite("odd", 0, 4, 6, false), 2, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("MiSS at odd: mini_r=4 must divide out=6");
    }

    @Test
    void testBatTransformsTheWeightPerOutputBlockAndUnmergesExactly() {
        BatModule module = new BatModule(new LinearSite("layer.proj", 0, 2, 4, false), 2, BlockFamily.MISS);
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 2));
        assertThat(module.getParameters().keys()).containsExactly(MISS_BLOCK);
        assertThat(module.getParameters().get(MISS_BLOCK).getArray().getShape()).isEqualTo(new Shape(2, 2, 2));
        // B_0 = [[0.5 0] [0 0.5]], B_1 = [[0 1] [0 0]]
        module.getParameters().get(MISS_BLOCK).getArray().set(new float[] {0.5f, 0, 0, 0.5f, 0, 1, 0, 0});
        NDArray weight = manager.create(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, new Shape(4, 2));
        // W_0·B_0 + B_0 = [[0.5 1] [1.5 2]] + B_0 = [[1 1] [1.5 2.5]];  W_1·B_1 + B_1 = [[0 5] [0 7]] + B_1 = [[0 6] [0 7]]
        assertClose(module.weightDelta(new ParameterStore(manager, false), weight, false).toFloatArray(),
                new float[] {1, 1, 1.5f, 2.5f, 0, 6, 0, 7}, 1e-5);
        LinearWeights merged = module.merge(new LinearWeights(weight, null));
        assertClose(merged.weight().toFloatArray(), new float[] {2, 3, 4.5f, 6.5f, 5, 12, 7, 15}, 1e-5);
        // (W' − B_1)(I + B_1)⁻¹ = [[5 11] [7 15]]·[[1 −1] [0 1]] = [[5 6] [7 8]]
        assertClose(module.unmerge(merged).weight().toFloatArray(), new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1e-5);
        assertThat(module.toString()).contains("MiSS");
    }

    @Test
    void testBatErrorsNameMissBat() {
        assertThatThrownBy(() -> new BatModule(new LinearSite("odd", 0, 6, 4, false), 4, BlockFamily.MISS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("MiSS bat at odd: in=6 and out=4 must be multiples of r=4 (the weight must divide into r x r blocks)");
    }

    private BoneModule miss(LinearSite site, int rank, int miniRank) {
        BoneModule module = BoneModule.builder(site).optFamily(BlockFamily.MISS).setRank(rank).optMiniRank(miniRank).build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, site.inFeatures()));
        return module;
    }

    private static void assertClose(float[] actual, float[] expected, double tolerance) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int index = 0; index < expected.length; index++) {
            assertThat((double) actual[index]).as("element %d", index).isCloseTo(expected[index], within(tolerance));
        }
    }
}
