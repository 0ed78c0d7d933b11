package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/** Comparisons of model outputs with the float64 references. */
final class ModelAssertions {
    static final double TOLERANCE = 1e-4;

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
    static void assertClose(float[] actual, double[][][] expected, int[][] mask) {
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
    static void assertClose(float[] actual, double[][][] expected) {
        int[][] everywhere = new int[expected.length][expected[0].length];
        for (int[] row : everywhere) {
            java.util.Arrays.fill(row, 1);
        }
        assertClose(actual, expected, everywhere);
    }
}
