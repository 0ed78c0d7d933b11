package dev.graft.runtime.peft;

import java.util.Arrays;

/**
 * Exact dense linear algebra for low-rank products, in float64: the truncated SVD of {@code B·A} computed from
 * the factors (QR of each factor, then a one-sided Jacobi SVD of the small core), so a {@code (out × in)} matrix
 * is never decomposed directly. DJL's API has no SVD.
 */
final class LowRankAlgebra {
    private static final double TOLERANCE = 1e-12;

    private LowRankAlgebra() {}

    /**
     * Factors {@code (B', A')} with {@code B'·A'} the best rank-{@code k} approximation of {@code B·A}: with
     * {@code B = Q_b·R_b}, {@code Aᵀ = Q_a·R_a} and {@code R_b·R_aᵀ = U·S·Vᵀ}, {@code B' = Q_b·U·S} and
     * {@code A' = (Q_a·V)ᵀ}, truncated to the {@code k} largest singular values (PEFT stores {@code U·S} in B too).
     */
    static double[][][] truncatedSvd(double[][] b, double[][] a, int k) {
        int rank = a.length;
        double[][] bq = copy(b);
        double[][] br = orthonormalize(bq);
        double[][] at = transpose(a);
        double[][] ar = orthonormalize(at);
        double[][] core = multiply(br, transpose(ar));
        double[][] v = identity(rank);
        jacobi(core, v);
        double[] singular = new double[rank];
        for (int column = 0; column < rank; column++) {
            double norm = 0;
            for (double[] row : core) {
                norm += row[column] * row[column];
            }
            singular[column] = Math.sqrt(norm);
        }
        Integer[] order = new Integer[rank];
        for (int index = 0; index < rank; index++) {
            order[index] = index;
        }
        Arrays.sort(order, (left, right) -> Double.compare(singular[right], singular[left]));
        int kept = Math.min(k, rank);
        double[][] newB = new double[b.length][kept];
        double[][] newA = new double[kept][a[0].length];
        for (int target = 0; target < kept; target++) {
            int column = order[target];
            for (int row = 0; row < b.length; row++) {
                double value = 0;
                for (int inner = 0; inner < rank; inner++) {
                    value += bq[row][inner] * core[inner][column];
                }
                newB[row][target] = value;
            }
            for (int columnOfA = 0; columnOfA < a[0].length; columnOfA++) {
                double value = 0;
                for (int inner = 0; inner < rank; inner++) {
                    value += at[columnOfA][inner] * v[inner][column];
                }
                newA[target][columnOfA] = value;
            }
        }
        return new double[][][] {newB, newA};
    }

    /** Replaces the columns of {@code matrix} by an orthonormal basis (modified Gram–Schmidt, twice); returns R. */
    private static double[][] orthonormalize(double[][] matrix) {
        int rows = matrix.length;
        int columns = matrix[0].length;
        double[][] r = new double[columns][columns];
        for (int column = 0; column < columns; column++) {
            for (int pass = 0; pass < 2; pass++) {
                for (int previous = 0; previous < column; previous++) {
                    double dot = 0;
                    for (int row = 0; row < rows; row++) {
                        dot += matrix[row][previous] * matrix[row][column];
                    }
                    r[previous][column] += dot;
                    for (int row = 0; row < rows; row++) {
                        matrix[row][column] -= dot * matrix[row][previous];
                    }
                }
            }
            double norm = 0;
            for (int row = 0; row < rows; row++) {
                norm += matrix[row][column] * matrix[row][column];
            }
            norm = Math.sqrt(norm);
            r[column][column] = norm;
            for (int row = 0; row < rows; row++) {
                matrix[row][column] = norm > TOLERANCE ? matrix[row][column] / norm : 0;
            }
        }
        return r;
    }

    /** One-sided Jacobi: rotates the columns of {@code matrix} until orthogonal, accumulating the rotations in {@code v}. */
    private static void jacobi(double[][] matrix, double[][] v) {
        int size = matrix.length;
        for (int sweep = 0; sweep < 60; sweep++) {
            double off = 0;
            for (int p = 0; p < size - 1; p++) {
                for (int q = p + 1; q < size; q++) {
                    double alpha = 0;
                    double beta = 0;
                    double gamma = 0;
                    for (double[] row : matrix) {
                        alpha += row[p] * row[p];
                        beta += row[q] * row[q];
                        gamma += row[p] * row[q];
                    }
                    if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma == 0) {
                        continue;
                    }
                    off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta == 0 ? 1 : zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    double c = 1 / Math.sqrt(1 + t * t);
                    double s = c * t;
                    rotate(matrix, p, q, c, s);
                    rotate(v, p, q, c, s);
                }
            }
            if (off < 1e-15) {
                return;
            }
        }
    }

    private static void rotate(double[][] matrix, int p, int q, double c, double s) {
        for (double[] row : matrix) {
            double left = row[p];
            double right = row[q];
            row[p] = c * left - s * right;
            row[q] = s * left + c * right;
        }
    }

    static double[][] multiply(double[][] left, double[][] right) {
        double[][] product = new double[left.length][right[0].length];
        for (int row = 0; row < left.length; row++) {
            for (int inner = 0; inner < right.length; inner++) {
                double value = left[row][inner];
                if (value == 0) {
                    continue;
                }
                for (int column = 0; column < right[0].length; column++) {
                    product[row][column] += value * right[inner][column];
                }
            }
        }
        return product;
    }

    static double[][] transpose(double[][] matrix) {
        double[][] transposed = new double[matrix[0].length][matrix.length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < matrix[0].length; column++) {
                transposed[column][row] = matrix[row][column];
            }
        }
        return transposed;
    }

    private static double[][] identity(int size) {
        double[][] identity = new double[size][size];
        for (int index = 0; index < size; index++) {
            identity[index][index] = 1;
        }
        return identity;
    }

    private static double[][] copy(double[][] matrix) {
        double[][] copy = new double[matrix.length][];
        for (int row = 0; row < matrix.length; row++) {
            copy[row] = matrix[row].clone();
        }
        return copy;
    }
}
