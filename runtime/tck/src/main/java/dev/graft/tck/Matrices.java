package dev.graft.tck;

import static java.lang.String.format;

/**
 * Plain-Java matrix arithmetic for reference formulas (accumulated in float64, returned as float32): no DJL, so a
 * reference cannot share a bug with the implementation it checks.
 */
public final class Matrices {
    private Matrices() {}

    /** A {@code rows × columns} matrix of zeros. */
    public static float[][] zeros(int rows, int columns) {
        return new float[rows][columns];
    }

    /** {@code left · right}. */
    public static float[][] product(float[][] left, float[][] right) {
        int inner = right.length;
        if (left.length > 0 && left[0].length != inner) {
            throw new IllegalArgumentException(format("cannot multiply %d×%d by %d×%d", left.length, left[0].length, inner, right.length == 0 ? 0 : right[0].length));
        }
        int columns = inner == 0 ? 0 : right[0].length;
        float[][] result = new float[left.length][columns];
        for (int row = 0; row < left.length; row++) {
            for (int column = 0; column < columns; column++) {
                double sum = 0;
                for (int index = 0; index < inner; index++) {
                    sum += (double) left[row][index] * right[index][column];
                }
                result[row][column] = (float) sum;
            }
        }
        return result;
    }

    /** {@code matrix · factor}. */
    public static float[][] scaled(float[][] matrix, double factor) {
        float[][] result = new float[matrix.length][];
        for (int row = 0; row < matrix.length; row++) {
            result[row] = new float[matrix[row].length];
            for (int column = 0; column < matrix[row].length; column++) {
                result[row][column] = (float) (matrix[row][column] * factor);
            }
        }
        return result;
    }

    /** {@code matrixᵀ}. */
    public static float[][] transpose(float[][] matrix) {
        int columns = matrix.length == 0 ? 0 : matrix[0].length;
        float[][] result = new float[columns][matrix.length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < columns; column++) {
                result[column][row] = matrix[row][column];
            }
        }
        return result;
    }

    /** {@code left − right}. */
    public static float[][] difference(float[][] left, float[][] right) {
        float[][] result = new float[left.length][];
        for (int row = 0; row < left.length; row++) {
            result[row] = new float[left[row].length];
            for (int column = 0; column < left[row].length; column++) {
                result[row][column] = left[row][column] - right[row][column];
            }
        }
        return result;
    }
}
