package dev.graft.it.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A float32 tensor held in plain Java, row-major, as PyTorch would save it: the values a test writes into a PEFT
 * checkpoint and then reads back, in float64, to compute what PEFT computes. No DJL.
 */
final class PlainTensor {
    private final int[] shape;
    private final float[] values;

    private PlainTensor(int[] shape, float[] values) {
        this.shape = shape.clone();
        this.values = values;
        if (values.length != Arrays.stream(shape).reduce(1, Math::multiplyExact)) {
            throw new IllegalArgumentException(format("%d values do not fill shape %s", values.length, Arrays.toString(shape)));
        }
    }

    /** {@code mean + standardDeviation·N(0, 1)} per element, drawn from {@code random}. */
    static PlainTensor gaussian(Random random, double mean, double standardDeviation, int... shape) {
        float[] values = new float[Arrays.stream(shape).reduce(1, Math::multiplyExact)];
        for (int index = 0; index < values.length; index++) {
            values[index] = (float) (mean + standardDeviation * random.nextGaussian());
        }
        return new PlainTensor(shape, values);
    }

    /** {@code U(−bound, bound)} per element, drawn from {@code random}. */
    static PlainTensor uniform(Random random, double bound, int... shape) {
        float[] values = new float[Arrays.stream(shape).reduce(1, Math::multiplyExact)];
        for (int index = 0; index < values.length; index++) {
            values[index] = (float) ((2 * random.nextDouble() - 1) * bound);
        }
        return new PlainTensor(shape, values);
    }

    /** The same values under another shape of the same size, as {@code torch.reshape}. */
    PlainTensor reshape(int... newShape) {
        return new PlainTensor(newShape, values);
    }

    /** The shape, as the safetensors header lists it. */
    List<Long> shape() {
        return Arrays.stream(shape).mapToObj(dimension -> (long) dimension).toList();
    }

    /** The number of elements. */
    int size() {
        return values.length;
    }

    /** The element at {@code index} (one index per dimension), widened to float64. */
    double at(int... index) {
        requireNonNull(index, "index is null");
        if (index.length != shape.length) {
            throw new IllegalArgumentException(format("index %s has %d dimensions, the tensor %d", Arrays.toString(index), index.length, shape.length));
        }
        int flat = 0;
        for (int dimension = 0; dimension < shape.length; dimension++) {
            if (index[dimension] < 0 || index[dimension] >= shape[dimension]) {
                throw new IndexOutOfBoundsException(format("index %s is outside shape %s", Arrays.toString(index), Arrays.toString(shape)));
            }
            flat = flat * shape[dimension] + index[dimension];
        }
        return values[flat];
    }

    /** The element at flat position {@code index}, widened to float64. */
    double flat(int index) {
        return values[index];
    }

    /** The raw little-endian float32 bytes, as safetensors stores an F32 tensor. */
    ByteBuffer littleEndianBytes() {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            bytes.putFloat(value);
        }
        return bytes.flip();
    }
}
