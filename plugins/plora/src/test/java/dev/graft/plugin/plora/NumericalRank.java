package dev.graft.plugin.plora;

import static java.lang.String.format;

import java.util.Arrays;

/**
 * Singular values of a small dense matrix, for rank checks in tests: the square roots of the eigenvalues of
 * {@code MᵀM}, found with the cyclic Jacobi eigenvalue method in double precision.
 */
final class NumericalRank {
    private NumericalRank() {}

    /** The singular values of the {@code rows × columns} row-major matrix {@code values}, largest first. */
    static double[] singularValues(float[] values, int rows, int columns) {
        if (values.length != rows * columns) {
            throw new IllegalArgumentException(format("%d values cannot form a %d×%d matrix", values.length, rows, columns));
        }
        double[][] gram = new double[columns][columns];
        for (int i = 0; i < columns; i++) {
            for (int j = i; j < columns; j++) {
                double sum = 0;
                for (int row = 0; row < rows; row++) {
                    sum += (double) values[row * columns + i] * values[row * columns + j];
                }
                gram[i][j] = sum;
                gram[j][i] = sum;
            }
        }
        double[] eigenvalues = symmetricEigenvalues(gram);
        double[] singular = new double[columns];
        for (int index = 0; index < columns; index++) {
            singular[index] = Math.sqrt(Math.max(0, eigenvalues[index]));
        }
        Arrays.sort(singular);
        for (int index = 0; index < columns / 2; index++) {
            double swap = singular[index];
            singular[index] = singular[columns - 1 - index];
            singular[columns - 1 - index] = swap;
        }
        return singular;
    }

    /** The number of singular values above {@code relativeTolerance} times the largest. */
    static int rank(float[] values, int rows, int columns, double relativeTolerance) {
        double[] singular = singularValues(values, rows, columns);
        int rank = 0;
        for (double value : singular) {
            if (value > relativeTolerance * singular[0]) {
                rank++;
            }
        }
        return rank;
    }

    private static double[] symmetricEigenvalues(double[][] matrix) {
        int size = matrix.length;
        double[][] a = new double[size][];
        for (int row = 0; row < size; row++) {
            a[row] = matrix[row].clone();
        }
        double total = 0;
        for (int p = 0; p < size; p++) {
            for (int q = 0; q < size; q++) {
                total += a[p][q] * a[p][q];
            }
        }
        for (int sweep = 0; sweep < 100; sweep++) {
            double offDiagonal = 0;
            for (int p = 0; p < size; p++) {
                for (int q = p + 1; q < size; q++) {
                    offDiagonal += a[p][q] * a[p][q];
                }
            }
            if (offDiagonal <= 1e-28 * total) {
                break;
            }
            for (int p = 0; p < size; p++) {
                for (int q = p + 1; q < size; q++) {
                    if (a[p][q] == 0) {
                        continue;
                    }
                    double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                    double tangent = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) {
                        tangent = 1;
                    }
                    double cosine = 1 / Math.sqrt(tangent * tangent + 1);
                    double sine = tangent * cosine;
                    for (int k = 0; k < size; k++) {
                        double kp = a[k][p];
                        double kq = a[k][q];
                        a[k][p] = cosine * kp - sine * kq;
                        a[k][q] = sine * kp + cosine * kq;
                    }
                    for (int k = 0; k < size; k++) {
                        double pk = a[p][k];
                        double qk = a[q][k];
                        a[p][k] = cosine * pk - sine * qk;
                        a[q][k] = sine * pk + cosine * qk;
                    }
                }
            }
        }
        double[] eigenvalues = new double[size];
        for (int index = 0; index < size; index++) {
            eigenvalues[index] = a[index][index];
        }
        return eigenvalues;
    }
}
