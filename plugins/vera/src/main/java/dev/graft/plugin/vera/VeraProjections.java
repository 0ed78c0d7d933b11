package dev.graft.plugin.vera;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;

import java.util.SplittableRandom;

/**
 * The values of VeRA's shared frozen projections, drawn deterministically from {@code projection_prng_key}:
 * {@code vera_A (r × max_in)} then {@code vera_B (max_out × r)}, row-major, from one
 * {@link SplittableRandom} seeded with the key, each Kaiming-uniform with gain √2 as PEFT's {@code _kaiming_init}:
 * {@code U(±√(6/fan_in))} with {@code fan_in = max_in} for {@code vera_A} and {@code fan_in = r} for {@code vera_B}.
 *
 * <p>The distribution is PEFT's, the values are not: PEFT draws from a {@code torch.Generator}, which Java does not
 * reproduce. An adapter moving between Graft and Python PEFT must therefore carry its projections in the checkpoint
 * ({@code save_projection: true}, the default); with {@code save_projection: false} the projections are regenerated
 * from the key, which gives the same values only within Graft.
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
        SplittableRandom random = new SplittableRandom(key);
        float[] a = uniform(random, Math.multiplyExact(rank, maxIn), Math.sqrt(6.0 / maxIn));
        float[] b = uniform(random, Math.multiplyExact(maxOut, rank), Math.sqrt(6.0 / rank));
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

    private static float[] uniform(SplittableRandom random, int count, double bound) {
        float[] values = new float[count];
        for (int index = 0; index < count; index++) {
            values[index] = (float) ((2 * random.nextDouble() - 1) * bound);
        }
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
