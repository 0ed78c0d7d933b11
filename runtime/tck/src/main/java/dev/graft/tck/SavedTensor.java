package dev.graft.tck;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.Shape;

/**
 * One saved adapter tensor on the Java heap: its shape and its values as float32, row-major. For reference
 * formulas written in plain Java.
 */
public record SavedTensor(Shape shape, float[] values) {
    public SavedTensor {
        requireNonNull(shape, "shape is null");
        requireNonNull(values, "values is null");
        if (shape.size() != values.length) {
            throw new IllegalArgumentException(format("shape %s holds %d values, got %d", shape, shape.size(), values.length));
        }
        values = values.clone();
    }

    /** The values, row-major (a copy). */
    @Override
    public float[] values() {
        return values.clone();
    }

    /** The value at {@code index} (one coordinate per dimension). */
    public float at(long... index) {
        if (index.length != shape.dimension()) {
            throw new IllegalArgumentException(format("tensor of shape %s needs %d coordinates, got %d", shape, shape.dimension(), index.length));
        }
        long offset = 0;
        for (int dimension = 0; dimension < index.length; dimension++) {
            if (index[dimension] < 0 || index[dimension] >= shape.get(dimension)) {
                throw new IndexOutOfBoundsException(format("coordinate %d of %d is outside shape %s", dimension, index[dimension], shape));
            }
            offset = offset * shape.get(dimension) + index[dimension];
        }
        return values[(int) offset];
    }

    /** A two-dimensional tensor as {@code [rows][columns]}. */
    public float[][] matrix() {
        if (shape.dimension() != 2) {
            throw new IllegalStateException(format("a tensor of shape %s is not a matrix", shape));
        }
        int rows = (int) shape.get(0);
        int columns = (int) shape.get(1);
        float[][] matrix = new float[rows][columns];
        for (int row = 0; row < rows; row++) {
            System.arraycopy(values, row * columns, matrix[row], 0, columns);
        }
        return matrix;
    }
}
