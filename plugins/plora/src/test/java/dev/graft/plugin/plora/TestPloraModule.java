package dev.graft.plugin.plora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
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
 * PeriodicLoRA's module math against hand computations on a 3→2 site with r=1, α=2 (so s=2),
 * {@code A = [1 2 3]}, {@code B = [0.5; −1]}, so {@code B·A = [[0.5 1 1.5] [−1 −2 −3]]}.
 */
final class TestPloraModule {
    private static final LinearSite SITE = new LinearSite("layer.proj", 0, 3, 2, false);

    private NDManager manager;
    private PloraModule module;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(7);
        manager = NDManager.newBaseManager();
        module = PloraModule.builder(SITE).setRank(1).optScaling(2f).build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        module.getParameters().get(PloraModule.LORA_A_WEIGHT).getArray().set(new float[] {1, 2, 3});
        module.getParameters().get(PloraModule.LORA_B_WEIGHT).getArray().set(new float[] {0.5f, -1});
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testFreshModuleIsZeroWithKaimingUniformDownProjection() {
        PloraModule fresh = PloraModule.builder(new LinearSite("wide", 0, 100, 4, false)).setRank(8).build();
        fresh.initialize(manager, DataType.FLOAT32, new Shape(1, 100));
        float[] down = fresh.getParameters().get(PloraModule.LORA_A_WEIGHT).getArray().toFloatArray();
        assertThat(down).hasSize(800);
        float largest = 0;
        for (float value : down) {
            largest = Math.max(largest, Math.abs(value));
        }
        // U(±1/√100) = U(±0.1): every value inside, the largest close to the bound
        assertThat(largest).isLessThanOrEqualTo(0.1f).isGreaterThan(0.09f);
        assertThat(fresh.getParameters().get(PloraModule.LORA_B_WEIGHT).getArray().toFloatArray()).containsOnly(0f);
    }

    @Test
    void testDeltaIsUpTimesDownTimesInput() {
        NDArray x = manager.create(new float[] {1, 0, -1}, new Shape(1, 3));
        // A·x = 1 − 3 = −2; B·(−2) = [−1, 2]; unscaled
        assertThat(module.delta(new ParameterStore(manager, false), x, false).toFloatArray()).containsExactly(-1f, 2f);
        assertThat(module.scaling()).isEqualTo(2f);
    }

    @Test
    void testMergeAddsScaledProductAndUnmergeRemovesIt() {
        LinearWeights base = new LinearWeights(manager.create(new float[] {0, 0, 0, 1, 1, 1}, new Shape(2, 3)), null);
        LinearWeights merged = module.merge(base);
        assertThat(merged.weight().toFloatArray()).containsExactly(1, 2, 3, -1, -3, -5);
        assertThat(module.unmerge(merged).weight().toFloatArray()).containsExactly(0, 0, 0, 1, 1, 1);
        assertThat(base.weight().toFloatArray()).as("merge must not modify its input").containsExactly(0, 0, 0, 1, 1, 1);
    }

    @Test
    void testOffloadedFoldsTheGivenShare() {
        LinearWeights base = new LinearWeights(manager.create(new float[] {0, 0, 0, 1, 1, 1}, new Shape(2, 3)), null);
        // W + 0.25·2·B·A
        assertThat(module.offloaded(base, 0.25f).weight().toFloatArray()).containsExactly(0.25f, 0.5f, 0.75f, 0.5f, 0f, -0.5f);
    }

    @Test
    void testKeepShareScalesUpProjectionAndKeepsDownProjection() {
        module.keepShare(0.5f);
        assertThat(module.getParameters().get(PloraModule.LORA_B_WEIGHT).getArray().toFloatArray()).containsExactly(0.25f, -0.5f);
        assertThat(module.getParameters().get(PloraModule.LORA_A_WEIGHT).getArray().toFloatArray()).containsExactly(1f, 2f, 3f);
    }

    @Test
    void testKeepNothingZeroesUpProjectionAndRedrawsDownProjection() {
        module.keepShare(0f);
        assertThat(module.getParameters().get(PloraModule.LORA_B_WEIGHT).getArray().toFloatArray()).containsExactly(0f, 0f);
        float[] down = module.getParameters().get(PloraModule.LORA_A_WEIGHT).getArray().toFloatArray();
        // the old values 1, 2, 3 lie outside U(±1/√3); a fresh draw lies inside
        for (float value : down) {
            assertThat(Math.abs(value)).isLessThanOrEqualTo((float) (1 / Math.sqrt(3)));
        }
    }

    @Test
    void testKeepShareRejectsMomentumOutsideTheUnitInterval() {
        assertThatThrownBy(() -> module.keepShare(1f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("layer.proj").hasMessageContaining("[0, 1)");
    }
}
