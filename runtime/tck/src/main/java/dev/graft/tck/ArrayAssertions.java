package dev.graft.tck;

import static java.lang.String.format;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import java.util.ArrayList;
import java.util.List;

/**
 * Element-wise closeness assertions for method tests: {@code |actual − expected| ≤ tolerance} at every index, with
 * the first offending indexes in the failure message. NDArrays are compared as float32 values, whatever their type.
 */
public final class ArrayAssertions {
    private static final int REPORTED = 5;

    private ArrayAssertions() {}

    /** Asserts element-wise {@code |actual − expected| ≤ tolerance}, naming the first offending indexes. */
    public static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        assertThat(actual).as("%s: length", what).hasSameSizeAs(expected);
        List<String> problems = new ArrayList<>();
        for (int index = 0; index < actual.length && problems.size() < REPORTED; index++) {
            if (!(Math.abs(actual[index] - expected[index]) <= tolerance)) {
                problems.add(format("[%d] %s vs %s", index, actual[index], expected[index]));
            }
        }
        assertThat(problems).as("%s within %s", what, tolerance).isEmpty();
    }

    /** Like {@link #assertClose(float[], float[], double, String)}, with an unnamed value. */
    public static void assertClose(float[] actual, float[] expected, double tolerance) {
        assertClose(actual, expected, tolerance, "values");
    }

    /** Asserts {@code actual} has {@code expected}'s shape and is element-wise within {@code tolerance} of it. */
    public static void assertClose(NDArray actual, NDArray expected, double tolerance, String what) {
        assertThat(actual.getShape()).as("%s: shape", what).isEqualTo(expected.getShape());
        assertClose(floats(actual), floats(expected), tolerance, what);
    }

    /** Like {@link #assertClose(NDArray, NDArray, double, String)}, with an unnamed value. */
    public static void assertClose(NDArray actual, NDArray expected, double tolerance) {
        assertClose(actual, expected, tolerance, "array");
    }

    /** Asserts {@code actual}'s values (row-major) are element-wise within {@code tolerance} of {@code expected}. */
    public static void assertClose(NDArray actual, float[] expected, double tolerance, String what) {
        assertClose(floats(actual), expected, tolerance, what);
    }

    /** Asserts a row-major matrix equals {@code expected} (rows × columns) within {@code tolerance}, naming the first offending entries. */
    public static void assertClose(float[][] actual, float[][] expected, double tolerance, String what) {
        assertThat(actual.length).as("%s: rows", what).isEqualTo(expected.length);
        List<String> problems = new ArrayList<>();
        for (int row = 0; row < actual.length && problems.size() < REPORTED; row++) {
            assertThat(actual[row].length).as("%s: columns of row %d", what, row).isEqualTo(expected[row].length);
            for (int column = 0; column < actual[row].length && problems.size() < REPORTED; column++) {
                if (!(Math.abs(actual[row][column] - expected[row][column]) <= tolerance)) {
                    problems.add(format("[%d][%d] %s vs %s", row, column, actual[row][column], expected[row][column]));
                }
            }
        }
        assertThat(problems).as("%s within %s", what, tolerance).isEmpty();
    }

    /** The largest {@code |left − right|} over the indexes of two arrays of one length. */
    public static double maximumDifference(float[] left, float[] right) {
        assertThat(left).as("lengths").hasSameSizeAs(right);
        double largest = 0;
        for (int index = 0; index < left.length; index++) {
            largest = Math.max(largest, Math.abs(left[index] - right[index]));
        }
        return largest;
    }

    private static float[] floats(NDArray array) {
        return array.getDataType() == DataType.FLOAT32 ? array.toFloatArray() : array.toType(DataType.FLOAT32, true).toFloatArray();
    }
}
