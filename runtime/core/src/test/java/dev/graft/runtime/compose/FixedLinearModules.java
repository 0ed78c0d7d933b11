package dev.graft.runtime.compose;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Scalars;

import java.util.Random;

/**
 * Test-only linear modules of every linear contribution kind with fixed, seeded values (rank 4 for the low-rank one),
 * shared by the runtime's composition, precision, routing and block tests.
 */
public final class FixedLinearModules {
    static final int RANK = 4;

    private FixedLinearModules() {}

    /** Values {@code mean + N(0, deviation)} from a {@link Random} seeded with {@code seed}, as float32. */
    public static Initializer fixed(long seed, float mean, float deviation) {
        return (NDManager manager, Shape shape, DataType dataType) -> {
            Random random = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int index = 0; index < values.length; index++) {
                values[index] = mean + deviation * (float) random.nextGaussian();
            }
            return manager.create(values, shape);
        };
    }

    /** LoRA-like: {@code delta(x) = x·Aᵀ·Bᵀ}, scaling 0.5; merges {@code ΔW = 0.5·B·A}; A from {@code seed}, B from {@code seed + 1}. */
    public static final class LowRank extends LinearModuleBlock.MergeableAdditive {
        private final Parameter down;
        private final Parameter up;

        public LowRank(LinearSite site, long seed) {
            super(site);
            down = addParameter(Parameter.builder().setName("down").setType(Parameter.Type.WEIGHT).optShape(new Shape(RANK, site.inFeatures()))
                    .optInitializer(fixed(seed, 0f, 0.2f)).build());
            up = addParameter(Parameter.builder().setName("up").setType(Parameter.Type.WEIGHT).optShape(new Shape(site.outFeatures(), RANK))
                    .optInitializer(fixed(seed + 1, 0f, 0.2f)).build());
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
            NDArray a = parameterStore.getValue(down, x.getDevice(), training);
            NDArray b = parameterStore.getValue(up, x.getDevice(), training);
            return x.matMul(a.transpose()).matMul(b.transpose());
        }

        @Override
        public float scaling() {
            return 0.5f;
        }

        @Override
        protected NDArray deltaWeight(NDManager scope) {
            NDArray product = up.getArray().matMul(down.getArray());
            product.attach(scope);
            return Scalars.times(product, scaling());
        }
    }

    /** IA³-like: {@code x ⊙ l} or {@code y ⊙ l}, {@code l ~ 1 + N(0, 0.3)}. */
    public static final class Scale extends LinearModuleBlock.Scaling {
        private final Side side;
        private final Parameter factors;

        public Scale(LinearSite site, Side side, long seed) {
            super(site);
            this.side = side;
            factors = addParameter(Parameter.builder().setName("factors").setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(side == Side.INPUT ? site.inFeatures() : site.outFeatures()))
                    .optInitializer(fixed(seed, 1f, 0.3f)).build());
        }

        @Override
        public Side side() {
            return side;
        }

        @Override
        public NDArray scale(ParameterStore parameterStore, NDArray x, boolean training) {
            return parameterStore.getValue(factors, x.getDevice(), training);
        }
    }

    /** A weight transform (BAT-like) {@code ΔW = W ⊙ c}, with {@code c} one factor per output row. */
    public static final class WeightDelta extends LinearModuleBlock.WeightTransform {
        private final Parameter rows;

        public WeightDelta(LinearSite site, long seed) {
            super(site);
            rows = addParameter(Parameter.builder().setName("rows").setType(Parameter.Type.WEIGHT).optShape(new Shape(site.outFeatures(), 1))
                    .optInitializer(fixed(seed, 0f, 0.3f)).build());
        }

        @Override
        public NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training) {
            return weight.mul(parameterStore.getValue(rows, weight.getDevice(), training));
        }
    }
}
