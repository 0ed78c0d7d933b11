package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestResettableAdamW {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void testTwoUpdatesMatchTorchAdamW() {
        ResettableAdamW optimizer = ResettableAdamW.builder().optLearningRate(0.1f).optWeightDecays(0.01f).build();
        NDArray weight = manager.create(new float[] {1f, -2f});
        double[] expected = {1, -2};
        double[] mean = new double[2];
        double[] variance = new double[2];
        float[][] gradients = {{0.5f, -1f}, {0.25f, 2f}};
        for (int step = 1; step <= 2; step++) {
            optimizer.update("w", weight, manager.create(gradients[step - 1]), true);
            for (int index = 0; index < 2; index++) {
                double gradient = gradients[step - 1][index];
                expected[index] *= 1 - 0.1 * 0.01;
                mean[index] = 0.9 * mean[index] + 0.1 * gradient;
                variance[index] = 0.999 * variance[index] + 0.001 * gradient * gradient;
                double corrected = mean[index] / (1 - Math.pow(0.9, step));
                double correctedVariance = variance[index] / (1 - Math.pow(0.999, step));
                expected[index] -= 0.1 * corrected / (Math.sqrt(correctedVariance) + 1e-8);
            }
        }
        float[] actual = weight.toFloatArray();
        assertThat((double) actual[0]).isCloseTo(expected[0], org.assertj.core.data.Offset.offset(1e-6));
        assertThat((double) actual[1]).isCloseTo(expected[1], org.assertj.core.data.Offset.offset(1e-6));
        assertThat(optimizer.stepCount("w")).isEqualTo(2);
    }

    @Test
    void testNoDecayLeavesTheWeightToTheMoments() {
        ResettableAdamW decaying = ResettableAdamW.builder().optLearningRate(0.1f).optWeightDecays(0.5f).build();
        NDArray decayed = manager.create(new float[] {3f});
        NDArray kept = manager.create(new float[] {3f});
        decaying.update("a", decayed, manager.create(new float[] {1f}), true);
        decaying.update("b", kept, manager.create(new float[] {1f}), false);
        // first Adam step moves by lr·sign(g): 3 − 0.1 = 2.9; decay first multiplies by 1 − 0.1·0.5
        assertThat(kept.getFloat()).isEqualTo(2.9f, org.assertj.core.data.Offset.offset(1e-6f));
        assertThat(decayed.getFloat()).isEqualTo(3f * 0.95f - 0.1f, org.assertj.core.data.Offset.offset(1e-6f));
    }

    @Test
    void testRestoredStateContinuesBitForBit() {
        ResettableAdamW uninterrupted = ResettableAdamW.builder().optLearningRate(0.05f).build();
        NDArray first = manager.create(new float[] {0.3f, 0.7f, -1.1f});
        uninterrupted.update("p", first, manager.create(new float[] {0.1f, -0.2f, 0.3f}), true);
        NDArray second = first.duplicate();
        ResettableAdamW.State state = uninterrupted.state("p").orElseThrow();
        ResettableAdamW resumed = ResettableAdamW.builder().optLearningRate(0.05f).build();
        resumed.restore("q", second, new ResettableAdamW.State(state.mean().duplicate(), state.variance().duplicate(), state.step()));

        uninterrupted.update("p", first, manager.create(new float[] {-0.4f, 0.5f, 0.6f}), true);
        resumed.update("q", second, manager.create(new float[] {-0.4f, 0.5f, 0.6f}), true);

        assertThat(second.toFloatArray()).containsExactly(first.toFloatArray());
        assertThat(resumed.stepCount("q")).isEqualTo(2);
    }

    @Test
    void testResetForgetsTheState() {
        ResettableAdamW optimizer = ResettableAdamW.builder().build();
        optimizer.update("p", manager.create(new float[] {1f}), manager.create(new float[] {1f}), true);
        optimizer.reset("p");
        assertThat(optimizer.state("p")).isEmpty();
        assertThat(optimizer.stepCount("p")).isZero();
    }

    @Test
    void testRestoringAMisshapenStateIsRefused() {
        ResettableAdamW optimizer = ResettableAdamW.builder().build();
        assertThatThrownBy(() -> optimizer.restore("p", manager.create(new float[] {1f, 2f}),
                new ResettableAdamW.State(manager.create(new float[] {0f}), manager.create(new float[] {0f}), 1)))
                .hasMessage("optimizer state of shape (1) does not fit a parameter of shape (2)");
    }
}
