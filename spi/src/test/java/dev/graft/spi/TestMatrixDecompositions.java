package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import dev.graft.spi.MatrixDecompositions.QrDecomposition;
import dev.graft.spi.MatrixDecompositions.SingularValueDecomposition;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

/** The SVD and QR against matrices built from chosen factors: reconstruction, order, orthogonality. */
final class TestMatrixDecompositions {
    private static final double TOLERANCE = 1e-5;

    @Test
    void testSvdRecoversChosenSingularValuesAndReconstructs() {
        double[] chosen = {9, 5, 2.5, 1, 0.25};
        double[][] u = orthonormalColumns(12, 5, 1);
        double[][] v = orthonormalColumns(7, 5, 2);
        double[][] matrix = MatrixDecompositions.multiply(scaleColumns(u, chosen), MatrixDecompositions.transpose(v));

        SingularValueDecomposition svd = MatrixDecompositions.svd(matrix);

        // min(12, 7) = 7 values: the chosen five, then two zeros
        assertThat(svd.singularValues()).hasSize(7);
        for (int index = 0; index < chosen.length; index++) {
            assertThat(svd.singularValues()[index]).isCloseTo(chosen[index], offset(TOLERANCE));
        }
        assertThat(svd.singularValues()[5]).isCloseTo(0, offset(TOLERANCE));
        assertThat(svd.singularValues()[6]).isCloseTo(0, offset(TOLERANCE));
        assertOrthonormalColumns(firstColumns(svd.u(), 5));
        assertOrthonormalColumns(MatrixDecompositions.transpose(svd.vt()));
        assertClose(MatrixDecompositions.multiply(scaleColumns(svd.u(), svd.singularValues()), svd.vt()), matrix);
        // the singular vectors are the chosen ones up to sign
        for (int component = 0; component < chosen.length; component++) {
            double dot = 0;
            for (int row = 0; row < u.length; row++) {
                dot += u[row][component] * svd.u()[row][component];
            }
            assertThat(Math.abs(dot)).as("|⟨u%d, chosen u%d⟩|", component, component).isCloseTo(1, offset(TOLERANCE));
        }
    }

    @Test
    void testSvdOfAWideMatrixAndSortedValues() {
        double[][] matrix = random(6, 15, 3);
        SingularValueDecomposition svd = MatrixDecompositions.svd(matrix);
        assertThat(svd.u().length).isEqualTo(6);
        assertThat(svd.u()[0].length).isEqualTo(6);
        assertThat(svd.vt().length).isEqualTo(6);
        assertThat(svd.vt()[0].length).isEqualTo(15);
        for (int index = 1; index < svd.singularValues().length; index++) {
            assertThat(svd.singularValues()[index]).isLessThanOrEqualTo(svd.singularValues()[index - 1]);
        }
        assertOrthonormalColumns(svd.u());
        assertOrthonormalColumns(MatrixDecompositions.transpose(svd.vt()));
        assertClose(MatrixDecompositions.multiply(scaleColumns(svd.u(), svd.singularValues()), svd.vt()), matrix);
    }

    @Test
    void testQrReconstructsWithLapackSigns() {
        for (double[][] matrix : new double[][][] {random(9, 5, 4), random(4, 8, 5), {{2, 1}, {0, 3}}}) {
            QrDecomposition qr = MatrixDecompositions.qr(matrix);
            int size = Math.min(matrix.length, matrix[0].length);
            assertThat(qr.q()[0].length).isEqualTo(size);
            assertThat(qr.r().length).isEqualTo(size);
            assertOrthonormalColumns(qr.q());
            for (int row = 0; row < size; row++) {
                for (int column = 0; column < row; column++) {
                    assertThat(qr.r()[row][column]).as("R[%d][%d] below the diagonal", row, column).isZero();
                }
            }
            assertClose(MatrixDecompositions.multiply(qr.q(), qr.r()), matrix);
        }
        // LAPACK's Householder (torch.linalg.qr): R[0][0] = −sign(a₀₀)·‖a₀‖ when the column below is not zero
        QrDecomposition known = MatrixDecompositions.qr(new double[][] {{3, 1}, {4, 2}});
        assertThat(known.r()[0][0]).isCloseTo(-5, offset(1e-12));
        assertThat(known.q()[0][0]).isCloseTo(-0.6, offset(1e-12));
        assertThat(known.q()[1][0]).isCloseTo(-0.8, offset(1e-12));
        // an already reduced column is left alone (no reflection), as LAPACK does
        assertThat(MatrixDecompositions.qr(new double[][] {{2, 1}, {0, 3}}).r()[0][0]).isEqualTo(2);
    }

    @Test
    void testRandomizedSvdFindsAnExactlyLowRankMatrix() {
        double[] chosen = {4, 2, 1};
        double[][] matrix = MatrixDecompositions.multiply(scaleColumns(orthonormalColumns(20, 3, 6), chosen),
                MatrixDecompositions.transpose(orthonormalColumns(11, 3, 7)));
        for (int iterations : new int[] {0, 2}) {
            SingularValueDecomposition svd = MatrixDecompositions.randomizedSvd(matrix, 3, iterations, new SplittableRandom(8));
            for (int index = 0; index < chosen.length; index++) {
                assertThat(svd.singularValues()[index]).isCloseTo(chosen[index], offset(TOLERANCE));
            }
            assertOrthonormalColumns(svd.u());
            assertOrthonormalColumns(MatrixDecompositions.transpose(svd.vt()));
            assertClose(MatrixDecompositions.multiply(scaleColumns(svd.u(), svd.singularValues()), svd.vt()), matrix);
        }
        assertThatThrownBy(() -> MatrixDecompositions.randomizedSvd(matrix, 12, 1, new SplittableRandom(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank must be in [1, 11]");
    }

    @Test
    void testRandomizedSvdApproachesTheTopSingularValuesWithIterations() {
        double[][] matrix = random(30, 20, 9);
        double[] exact = MatrixDecompositions.svd(matrix).singularValues();
        SingularValueDecomposition approximate = MatrixDecompositions.randomizedSvd(matrix, 4, 8, new SplittableRandom(10));
        for (int index = 0; index < 4; index++) {
            assertThat(approximate.singularValues()[index]).isLessThanOrEqualTo(exact[index] + TOLERANCE).isCloseTo(exact[index], offset(0.05 * exact[index]));
        }
    }

    private static double[][] firstColumns(double[][] matrix, int count) {
        double[][] first = new double[matrix.length][count];
        for (int row = 0; row < matrix.length; row++) {
            System.arraycopy(matrix[row], 0, first[row], 0, count);
        }
        return first;
    }

    private static double[][] orthonormalColumns(int rows, int columns, long seed) {
        return MatrixDecompositions.qr(random(rows, columns, seed)).q();
    }

    private static double[][] random(int rows, int columns, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[][] matrix = new double[rows][columns];
        for (double[] row : matrix) {
            for (int column = 0; column < columns; column++) {
                row[column] = random.nextDouble(-1, 1);
            }
        }
        return matrix;
    }

    private static double[][] scaleColumns(double[][] matrix, double[] factors) {
        double[][] scaled = new double[matrix.length][factors.length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < factors.length; column++) {
                scaled[row][column] = matrix[row][column] * factors[column];
            }
        }
        return scaled;
    }

    private static void assertOrthonormalColumns(double[][] matrix) {
        double[][] gram = MatrixDecompositions.multiply(MatrixDecompositions.transpose(matrix), matrix);
        for (int row = 0; row < gram.length; row++) {
            for (int column = 0; column < gram.length; column++) {
                assertThat(gram[row][column]).as("Gram[%d][%d]", row, column).isCloseTo(row == column ? 1 : 0, offset(TOLERANCE));
            }
        }
    }

    private static void assertClose(double[][] actual, double[][] expected) {
        for (int row = 0; row < expected.length; row++) {
            for (int column = 0; column < expected[0].length; column++) {
                assertThat(actual[row][column]).as("[%d][%d]", row, column).isCloseTo(expected[row][column], offset(TOLERANCE));
            }
        }
    }
}
