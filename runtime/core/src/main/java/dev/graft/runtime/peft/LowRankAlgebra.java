package dev.graft.runtime.peft;

import dev.graft.spi.MatrixDecompositions;
import dev.graft.spi.MatrixDecompositions.QrDecomposition;
import dev.graft.spi.MatrixDecompositions.SingularValueDecomposition;

/**
 * Exact dense linear algebra for low-rank products, in float64: the truncated SVD of {@code B·A} computed from
 * the factors (QR of each factor, then the SVD of the small core, both the SPI's {@link MatrixDecompositions}), so a
 * {@code (out × in)} matrix is never decomposed directly. DJL's API has no SVD.
 */
final class LowRankAlgebra {
    private LowRankAlgebra() {}

    /**
     * Factors {@code (B', A')} with {@code B'·A'} the best rank-{@code k} approximation of {@code B·A}: with
     * {@code B = Q_b·R_b}, {@code Aᵀ = Q_a·R_a} and {@code R_b·R_aᵀ = U·S·Vᵀ}, {@code B' = Q_b·U·S} and
     * {@code A' = (Q_a·V)ᵀ}, truncated to the {@code k} largest singular values (PEFT stores {@code U·S} in B too).
     * {@code B'} has {@code min(k, r)} columns; those beyond the rank of {@code B·A} are zero.
     */
    static double[][][] truncatedSvd(double[][] b, double[][] a, int k) {
        int rank = a.length;
        QrDecomposition left = MatrixDecompositions.qr(b);
        QrDecomposition right = MatrixDecompositions.qr(transpose(a));
        SingularValueDecomposition core = MatrixDecompositions.svd(multiply(left.r(), transpose(right.r())));
        int kept = Math.min(k, rank);
        int available = Math.min(kept, core.singularValues().length);
        double[][] scaledU = new double[core.u().length][available];
        for (int row = 0; row < core.u().length; row++) {
            for (int column = 0; column < available; column++) {
                scaledU[row][column] = core.u()[row][column] * core.singularValues()[column];
            }
        }
        double[][] firstRows = new double[available][];
        System.arraycopy(core.vt(), 0, firstRows, 0, available);
        double[][] partB = multiply(left.q(), scaledU);
        double[][] partA = multiply(firstRows, transpose(right.q()));
        double[][] newB = new double[b.length][kept];
        double[][] newA = new double[kept][a[0].length];
        for (int row = 0; row < b.length; row++) {
            System.arraycopy(partB[row], 0, newB[row], 0, available);
        }
        for (int row = 0; row < available; row++) {
            newA[row] = partA[row];
        }
        return new double[][][] {newB, newA};
    }

    static double[][] multiply(double[][] left, double[][] right) {
        return MatrixDecompositions.multiply(left, right);
    }

    static double[][] transpose(double[][] matrix) {
        return MatrixDecompositions.transpose(matrix);
    }
}
