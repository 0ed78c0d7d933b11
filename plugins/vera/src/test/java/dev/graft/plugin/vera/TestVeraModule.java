package dev.graft.plugin.vera;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * VeRA's module math against hand computations on a 2→3 site with r=2 and shared projections larger than the site:
 * {@code vera_A = [[1 2 3] [4 5 6]]} (so {@code A_s = [[1 2] [4 5]]}), {@code vera_B = [[1 0] [0 1] [1 1] [9 9]]}
 * (so {@code B_s} is its first 3 rows), {@code λ_d = [0.5 2]}, {@code λ_b = [1 −1 2]}.
 */
final class TestVeraModule {
    private static final LinearSite SITE = new LinearSite("layer.proj", 0, 2, 3, false);

    private NDManager manager;
    private VeraModule module;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        module = VeraModule.builder(SITE)
                .setProjections(
                        frozen("vera_A", manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3))),
                        frozen("vera_B", manager.create(new float[] {1, 0, 0, 1, 1, 1, 9, 9}, new Shape(4, 2))))
                .build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 2));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testFreshModuleScalesByZeroAndInitialScale() {
        assertThat(module.getParameters().get(VeraModule.LAMBDA_B).getArray().toFloatArray()).containsExactly(0f, 0f, 0f);
        assertThat(module.getParameters().get(VeraModule.LAMBDA_D).getArray().toFloatArray()).containsExactly(0.1f, 0.1f);
        NDArray x = manager.create(new float[] {1, 1}, new Shape(1, 2));
        assertThat(module.delta(new ParameterStore(manager, false), x, false).toFloatArray()).containsOnly(0f);
    }

    @Test
    void testDeltaScalesTheSlicedProjections() {
        setLambdas();
        NDArray x = manager.create(new float[] {1, 1}, new Shape(1, 2));
        // A_s·x = [3, 9]; ⊙ λ_d = [1.5, 18]; B_s· = [1.5, 18, 19.5]; ⊙ λ_b = [1.5, −18, 39]
        assertThat(module.delta(new ParameterStore(manager, false), x, false).toFloatArray()).containsExactly(1.5f, -18f, 39f);
        assertThat(module.scaling()).isEqualTo(1f);
    }

    @Test
    void testMergeAddsScaledProductAndUnmergeRemovesIt() {
        setLambdas();
        LinearWeights base = new LinearWeights(manager.create(new float[] {1, 0, 0, 1, 0, 0}, new Shape(3, 2)), null);
        // λ_b·B_s = [[1 0] [0 −1] [2 2]]; λ_d·A_s = [[0.5 1] [8 10]]; product [[0.5 1] [−8 −10] [17 22]]
        LinearWeights merged = module.merge(base);
        assertThat(merged.weight().toFloatArray()).containsExactly(1.5f, 1f, -8f, -9f, 17f, 22f);
        float[] restored = module.unmerge(merged).weight().toFloatArray();
        float[] expected = {1, 0, 0, 1, 0, 0};
        for (int index = 0; index < expected.length; index++) {
            assertThat(restored[index]).isCloseTo(expected[index], within(1e-6f));
        }
    }

    @Test
    void testUninitialisedWeightsFollowPeft() {
        VeraModule untouched = VeraModule.builder(SITE)
                .setProjections(
                        frozen("vera_A", manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3))),
                        frozen("vera_B", manager.create(new float[] {1, 0, 0, 1, 1, 1, 9, 9}, new Shape(4, 2))))
                .optInitWeights(false)
                .build();
        untouched.initialize(manager, DataType.FLOAT32, new Shape(1, 2));
        assertThat(untouched.getParameters().get(VeraModule.LAMBDA_B).getArray().toFloatArray()).containsExactly(1f, 1f, 1f);
        assertThat(untouched.getParameters().get(VeraModule.LAMBDA_D).getArray().toFloatArray()).doesNotContain(0.1f);
    }

    @Test
    void testProjectionsSmallerThanTheSiteAreRejected() {
        LinearSite wide = new LinearSite("layer.wide", 0, 4, 3, false);
        assertThatThrownBy(() -> VeraModule.builder(wide)
                .setProjections(
                        frozen("vera_A", manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3))),
                        frozen("vera_B", manager.create(new float[] {1, 0, 0, 1, 1, 1, 9, 9}, new Shape(4, 2))))
                .build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layer.wide").hasMessageContaining("too small");
    }

    private void setLambdas() {
        module.getParameters().get(VeraModule.LAMBDA_D).getArray().set(new float[] {0.5f, 2});
        module.getParameters().get(VeraModule.LAMBDA_B).getArray().set(new float[] {1, -1, 2});
    }

    private static Parameter frozen(String name, NDArray values) {
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optArray(values).optRequiresGrad(false).build();
    }
}
