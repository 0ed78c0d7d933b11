package dev.graft.plugin.plora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The test helper's singular values against matrices whose singular values are known. */
final class TestNumericalRank {
    @Test
    void testDiagonalMatrix() {
        float[] matrix = {3, 0, 0, 0, -2, 0, 0, 0, 0.5f};
        double[] singular = NumericalRank.singularValues(matrix, 3, 3);
        assertThat(singular[0]).isCloseTo(3, within(1e-9));
        assertThat(singular[1]).isCloseTo(2, within(1e-9));
        assertThat(singular[2]).isCloseTo(0.5, within(1e-9));
    }

    @Test
    void testRankOfSumOfOuterProducts() {
        // u1·v1ᵀ + u2·v2ᵀ with independent u and v: rank 2 in a 4×3 matrix; u1·v1ᵀ alone: rank 1
        float[] u1 = {1, 2, 0, -1};
        float[] v1 = {1, 0, 2};
        float[] u2 = {0, 1, 1, 3};
        float[] v2 = {2, -1, 0};
        float[] one = new float[12];
        float[] two = new float[12];
        for (int row = 0; row < 4; row++) {
            for (int column = 0; column < 3; column++) {
                one[row * 3 + column] = u1[row] * v1[column];
                two[row * 3 + column] = u1[row] * v1[column] + u2[row] * v2[column];
            }
        }
        assertThat(NumericalRank.rank(one, 4, 3, 1e-6)).isEqualTo(1);
        assertThat(NumericalRank.rank(two, 4, 3, 1e-6)).isEqualTo(2);
    }
}
