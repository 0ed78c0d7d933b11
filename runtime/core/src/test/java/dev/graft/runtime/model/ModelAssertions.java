package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The runtime tests' one set of numeric comparisons: model outputs against the float64 references, and float arrays
 * against each other. Outputs are row-major {@code (batch, sequence, width)}.
 */
public final class ModelAssertions {
    /** The tolerance of a float32 forward against its float64 reference. */
    public static final double TOLERANCE = 1e-4;

    private ModelAssertions() {}

    /** The weights as plain float64 arrays (widened exactly from float32), by key, for the references. */
    public static Map<String, double[]> plain(Map<String, NDArray> weights) {
        Map<String, double[]> plain = new LinkedHashMap<>();
        weights.forEach((key, value) -> {
            float[] values = value.toFloatArray();
            double[] widened = new double[values.length];
            for (int index = 0; index < values.length; index++) {
                widened[index] = values[index];
            }
            plain.put(key, widened);
        });
        return plain;
    }

    /**
     * Asserts {@code actual} (row-major {@code (batch, sequence, width)}) equals {@code expected} within
     * {@link #TOLERANCE} at the positions where {@code mask} is 1.
     */
    public static void assertClose(float[] actual, double[][][] expected, int[][] mask) {
        int sequence = expected[0].length;
        int width = expected[0][0].length;
        assertThat(actual).hasSize(expected.length * sequence * width);
        for (int example = 0; example < expected.length; example++) {
            for (int position = 0; position < sequence; position++) {
                if (mask[example][position] == 0) {
                    continue;
                }
                for (int unit = 0; unit < width; unit++) {
                    float value = actual[(example * sequence + position) * width + unit];
                    assertThat((double) value).as("value [%d][%d][%d]", example, position, unit).isCloseTo(expected[example][position][unit], offset(TOLERANCE));
                }
            }
        }
    }

    /** Asserts {@code actual} (row-major {@code (batch, sequence, width)}) equals {@code expected} everywhere within {@link #TOLERANCE}. */
    public static void assertClose(float[] actual, double[][][] expected) {
        assertClose(actual, expected, everywhere(expected.length, expected[0].length));
    }

    /** Asserts element-wise {@code |actual − expected| ≤ tolerance}, naming {@code what} and the first offending index. */
    public static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        assertThat(actual).as("%s: length", what).hasSameSizeAs(expected);
        for (int index = 0; index < expected.length; index++) {
            assertThat((double) actual[index]).as("%s [%d]", what, index).isFinite().isCloseTo(expected[index], offset(tolerance));
        }
    }

    /** Asserts element-wise {@code |actual − expected| ≤ tolerance} against float64 values. */
    public static void assertClose(float[] actual, double[] expected, double tolerance, String what) {
        assertThat(actual).as("%s: length", what).hasSize(expected.length);
        for (int index = 0; index < expected.length; index++) {
            assertThat((double) actual[index]).as("%s [%d]", what, index).isCloseTo(expected[index], offset(tolerance));
        }
    }

    /** The largest element-wise difference; every value of {@code actual} must be finite. */
    public static double maximumDifference(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double maximum = 0;
        for (int index = 0; index < expected.length; index++) {
            assertThat(actual[index]).as("value [%d]", index).isFinite();
            maximum = Math.max(maximum, Math.abs(actual[index] - expected[index]));
        }
        return maximum;
    }

    /**
     * The largest difference at the positions where {@code mask} is 1, both row-major {@code (batch, sequence, width)};
     * every value compared must be finite.
     */
    public static double maximumDifference(float[] actual, float[] expected, int[][] mask) {
        int sequence = mask[0].length;
        int width = expected.length / (mask.length * sequence);
        assertThat(actual).hasSameSizeAs(expected);
        double maximum = 0;
        for (int example = 0; example < mask.length; example++) {
            for (int position = 0; position < sequence; position++) {
                if (mask[example][position] == 0) {
                    continue;
                }
                for (int unit = 0; unit < width; unit++) {
                    int index = (example * sequence + position) * width + unit;
                    assertThat(actual[index]).as("value [%d][%d][%d]", example, position, unit).isFinite();
                    maximum = Math.max(maximum, Math.abs(actual[index] - expected[index]));
                }
            }
        }
        return maximum;
    }

    /** The largest difference from a float64 reference at the positions where {@code mask} is 1. */
    public static double maximumDifference(float[] actual, double[][][] expected, int[][] mask) {
        int sequence = expected[0].length;
        int width = expected[0][0].length;
        double maximum = 0;
        for (int example = 0; example < expected.length; example++) {
            for (int position = 0; position < sequence; position++) {
                if (mask[example][position] == 0) {
                    continue;
                }
                for (int unit = 0; unit < width; unit++) {
                    maximum = Math.max(maximum, Math.abs(actual[(example * sequence + position) * width + unit] - expected[example][position][unit]));
                }
            }
        }
        return maximum;
    }

    private static int[][] everywhere(int batch, int sequence) {
        int[][] mask = new int[batch][sequence];
        for (int[] row : mask) {
            java.util.Arrays.fill(row, 1);
        }
        return mask;
    }
}
