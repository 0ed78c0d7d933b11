package dev.graft.plugin.vera;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;

/**
 * The values of VeRA's shared frozen projections, exactly as Hugging Face PEFT makes them from
 * {@code projection_prng_key} ({@code tuners/vera/model.py}: {@code _init_vera_A_vera_B} and {@code _kaiming_init}):
 * one {@code torch.Generator(device="cpu")} seeded with the key draws {@code vera_A (r × max_in)} and then
 * {@code vera_B (max_out × r)}, row-major, each Kaiming-uniform with gain √2 on its fan-in (its second dimension):
 * {@code U(±√3 · √2 / √fan_in)}, i.e. {@code U(±√(6/max_in))} for {@code vera_A} and {@code U(±√(6/r))} for
 * {@code vera_B}. {@link TorchCpuGenerator} reproduces torch's generator and {@code uniform_} bit for bit, so the key
 * alone gives PEFT's projections: an adapter saved with {@code save_projection: false} (or one whose saved projections
 * PEFT drops and regenerates) means the same thing here and there.
 */
final class VeraProjections {
    private final int rank;
    private final int maxIn;
    private final int maxOut;
    private final float[] a;
    private final float[] b;

    private VeraProjections(int rank, int maxIn, int maxOut, float[] a, float[] b) {
        this.rank = rank;
        this.maxIn = maxIn;
        this.maxOut = maxOut;
        this.a = a;
        this.b = b;
    }

    /** Draws the projections for {@code key}. */
    static VeraProjections draw(long key, int rank, int maxIn, int maxOut) {
        if (rank <= 0 || maxIn <= 0 || maxOut <= 0) {
            throw new IllegalArgumentException(format("VeRA projections need positive sizes: r=%d max_in=%d max_out=%d", rank, maxIn, maxOut));
        }
        TorchCpuGenerator generator = new TorchCpuGenerator(key);
        float[] a = kaimingUniform(generator, Math.multiplyExact(rank, maxIn), maxIn);
        float[] b = kaimingUniform(generator, Math.multiplyExact(maxOut, rank), rank);
        return new VeraProjections(rank, maxIn, maxOut, a, b);
    }

    /** A copy of the values of {@code vera_A}, row-major. */
    float[] valuesA() {
        return a.clone();
    }

    /** A copy of the values of {@code vera_B}, row-major. */
    float[] valuesB() {
        return b.clone();
    }

    /** The shape of {@code vera_A}: {@code (r, max_in)}. */
    Shape shapeA() {
        return new Shape(rank, maxIn);
    }

    /** The shape of {@code vera_B}: {@code (max_out, r)}. */
    Shape shapeB() {
        return new Shape(maxOut, rank);
    }

    /** An initializer that fills {@code vera_A} with its values. */
    Initializer initializerA() {
        return new FixedValues(a, shapeA());
    }

    /** An initializer that fills {@code vera_B} with its values. */
    Initializer initializerB() {
        return new FixedValues(b, shapeB());
    }

    /**
     * PEFT's {@code _kaiming_init} on a tensor of {@code count} elements whose fan-in is {@code fanIn}: the bound is
     * computed in double as Python does ({@code gain = √2}, {@code std = gain / √fan_in}, {@code bound = √3 · std}), then
     * {@code uniform_(-bound, bound)} draws from {@code generator}.
     */
    private static float[] kaimingUniform(TorchCpuGenerator generator, int count, int fanIn) {
        double standardDeviation = Math.sqrt(2) / Math.sqrt(fanIn);
        double bound = Math.sqrt(3.0) * standardDeviation;
        float[] values = new float[count];
        generator.uniform(values, -bound, bound);
        return values;
    }

    /** Fills a parameter with fixed values of a fixed shape. */
    private static final class FixedValues implements Initializer {
        private final float[] values;
        private final Shape shape;

        FixedValues(float[] values, Shape shape) {
            this.values = values;
            this.shape = shape;
        }

        @Override
        public NDArray initialize(NDManager manager, Shape requested, DataType dataType) {
            if (!requested.equals(shape)) {
                throw new IllegalArgumentException(format("VeRA projection has shape %s, but %s was requested", shape, requested));
            }
            NDArray array = manager.create(values, shape);
            return dataType == DataType.FLOAT32 ? array : array.toType(dataType, false);
        }
    }
}
