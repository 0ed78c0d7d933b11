package dev.graft.plugin.vera;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

/** The shared projections: Kaiming-uniform with gain √2, deterministic in the key. */
final class TestVeraProjections {
    @Test
    void testShapesAndKaimingBounds() {
        VeraProjections projections = VeraProjections.draw(0, 4, 150, 24);
        assertThat(projections.shapeA()).isEqualTo(new Shape(4, 150));
        assertThat(projections.shapeB()).isEqualTo(new Shape(24, 4));
        // vera_A: fan_in = max_in = 150, bound √(6/150) = 0.2; vera_B: fan_in = r = 4, bound √(6/4) ≈ 1.2247
        assertThat(largestMagnitude(projections.valuesA())).isLessThanOrEqualTo(0.2f).isGreaterThan(0.19f);
        assertThat(largestMagnitude(projections.valuesB())).isLessThanOrEqualTo((float) Math.sqrt(1.5)).isGreaterThan(1.1f);
        assertThat(projections.valuesA()).hasSize(600);
        assertThat(projections.valuesB()).hasSize(96);
    }

    @Test
    void testSameKeyGivesSameValuesAndAnotherKeyOthers() {
        VeraProjections first = VeraProjections.draw(42, 4, 16, 8);
        VeraProjections again = VeraProjections.draw(42, 4, 16, 8);
        VeraProjections other = VeraProjections.draw(43, 4, 16, 8);
        assertThat(again.valuesA()).containsExactly(first.valuesA());
        assertThat(again.valuesB()).containsExactly(first.valuesB());
        assertThat(other.valuesA()).isNotEqualTo(first.valuesA());
    }

    @Test
    void testValuesAreCenteredAndSpreadLikeTheUniformDistribution() {
        float[] values = VeraProjections.draw(3, 64, 1000, 1).valuesA();
        double mean = 0;
        double square = 0;
        for (float value : values) {
            mean += value;
            square += value * value;
        }
        mean /= values.length;
        square /= values.length;
        double bound = Math.sqrt(6.0 / 1000);
        // U(±c) has mean 0 and variance c²/3; 64 000 draws put both within a few standard errors
        assertThat(mean).isBetween(-0.01 * bound, 0.01 * bound);
        assertThat(square).isBetween(0.98 * bound * bound / 3, 1.02 * bound * bound / 3);
    }

    private static float largestMagnitude(float[] values) {
        float largest = 0;
        for (float value : values) {
            largest = Math.max(largest, Math.abs(value));
        }
        return largest;
    }
}
