package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Scalars;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A test method of each kind a linear site composes, with fixed non-zero values drawn from a seeded {@link Random}
 * (not any paper's init, which would often leave the output unchanged), so two models get identical adapters.
 */
final class LinearKindsMethod implements PeftMethod {
    /** The kind of module the method attaches. */
    enum Kind {
        /** LoRA-like: {@code delta(x) = x·Aᵀ·Bᵀ}, scaling 0.5; merges {@code ΔW = 0.5·B·A}. */
        LOW_RANK,
        /** IA³-like on the input: {@code x ⊙ l}. */
        INPUT_SCALE,
        /** IA³-like on the output: {@code y ⊙ l}. */
        OUTPUT_SCALE,
        /** A weight transform {@code ΔW = W ⊙ c}, with {@code c} one factor per output row. */
        WEIGHT_DELTA
    }

    private static final int RANK = 4;

    private final Kind kind;
    private final long seed;

    LinearKindsMethod(Kind kind, long seed) {
        this.kind = requireNonNull(kind, "kind is null");
        this.seed = seed;
    }

    @Override
    public MethodDescriptor descriptor() {
        String id = kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        Class<? extends MethodModule> moduleType = kind == Kind.LOW_RANK ? MergeableLinearModule.class : MethodModule.class;
        return new MethodDescriptor(id, "1.0.0", SpiVersion.CURRENT, kind.name(), Set.of(SiteKind.LINEAR), moduleType, OptionSchema.of(), Map.of(),
                "a fixed test module of kind " + kind);
    }

    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        return new MethodInstance() {
            @Override
            public MethodModule attach(Site site) {
                LinearSite linear = LinearModuleBlock.requireLinear(site, descriptor().id());
                long siteSeed = seed * 31 + site.name().hashCode();
                return switch (kind) {
                    case LOW_RANK -> new LowRank(linear, siteSeed);
                    case INPUT_SCALE -> new Scale(linear, ScalingLinearModule.Side.INPUT, siteSeed);
                    case OUTPUT_SCALE -> new Scale(linear, ScalingLinearModule.Side.OUTPUT, siteSeed);
                    case WEIGHT_DELTA -> new WeightDelta(linear, siteSeed);
                };
            }

            @Override
            public long trainableParameterCount(List<Site> sites) {
                long count = 0;
                for (Site site : sites) {
                    LinearSite linear = (LinearSite) site;
                    count += switch (kind) {
                        case LOW_RANK -> (long) RANK * (linear.inFeatures() + linear.outFeatures());
                        case INPUT_SCALE -> linear.inFeatures();
                        case OUTPUT_SCALE, WEIGHT_DELTA -> linear.outFeatures();
                    };
                }
                return count;
            }
        };
    }

    /** Values {@code mean + N(0, deviation)} from a {@link Random} seeded with {@code seed}, as float32. */
    private static Initializer fixed(long seed, float mean, float deviation) {
        return (NDManager manager, Shape shape, DataType dataType) -> {
            Random random = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int index = 0; index < values.length; index++) {
                values[index] = mean + deviation * (float) random.nextGaussian();
            }
            return manager.create(values, shape);
        };
    }

    private static final class LowRank extends LinearModuleBlock.MergeableAdditive {
        private final Parameter down;
        private final Parameter up;

        LowRank(LinearSite site, long seed) {
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

    private static final class Scale extends LinearModuleBlock.Scaling {
        private final Side side;
        private final Parameter factors;

        Scale(LinearSite site, Side side, long seed) {
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

    private static final class WeightDelta extends LinearModuleBlock.WeightTransform {
        private final Parameter rows;

        WeightDelta(LinearSite site, long seed) {
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
