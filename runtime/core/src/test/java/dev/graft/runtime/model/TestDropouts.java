package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.graft.spi.Dropouts;

import org.junit.jupiter.api.Test;

/** The SPI's {@link Dropouts} (tested here, where the PyTorch engine is): PyTorch's dropout distribution, reproducible under a seed, the mask's gradient, inference untouched. */
final class TestDropouts {
    @Test
    void testAQuarterIsZeroedAndTheRestScaledByFourThirds() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray ones = manager.ones(new Shape(1000, 1000));
            Engine.getInstance().setRandomSeed(3);
            float[] dropped = Dropouts.apply(ones, 0.25f, true).toFloatArray();
            long zeros = 0;
            for (float value : dropped) {
                if (value == 0) {
                    zeros++;
                }
                else {
                    assertThat(value).isEqualTo(1 / 0.75f);
                }
            }
            // 1,000,000 draws: the standard deviation of the zeroed fraction is 0.00043
            assertThat(zeros / 1e6).isCloseTo(0.25, within(0.003));
        }
    }

    @Test
    void testTheSameSeedGivesTheSameMaskAndAnotherSeedAnother() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.randomUniform(-1, 1, new Shape(64, 32));
            Engine.getInstance().setRandomSeed(11);
            float[] first = Dropouts.apply(x, 0.5f, true).toFloatArray();
            Engine.getInstance().setRandomSeed(11);
            float[] again = Dropouts.apply(x, 0.5f, true).toFloatArray();
            Engine.getInstance().setRandomSeed(12);
            float[] other = Dropouts.apply(x, 0.5f, true).toFloatArray();
            assertThat(again).containsExactly(first);
            assertThat(other).isNotEqualTo(first);
        }
    }

    @Test
    void testTheGradientIsTheScaledMask() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.ones(new Shape(200));
            x.setRequiresGradient(true);
            float[] output;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray dropped = Dropouts.apply(x, 0.3f, true);
                output = dropped.toFloatArray();
                collector.backward(dropped.sum());
            }
            // d(sum(x ⊙ m))/dx = m, and with x = 1 the output is m itself
            assertThat(x.getGradient().toFloatArray()).containsExactly(output);
        }
    }

    @Test
    void testInferenceAndProbabilityZeroReturnTheInputAndBadProbabilitiesAreRefused() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.ones(new Shape(4));
            assertThat(Dropouts.apply(x, 0.5f, false)).isSameAs(x);
            assertThat(Dropouts.apply(x, 0f, true)).isSameAs(x);
            assertThatThrownBy(() -> Dropouts.apply(x, 1f, true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("a dropout probability must be in [0, 1), got 1.0");
            assertThatThrownBy(() -> Dropouts.apply(x, -0.1f, false)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
