package dev.graft.runtime.model;

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
import java.util.function.Function;

/**
 * Test-only methods of every module kind, with fixed non-zero seeded values, for per-row routing tests: each
 * attaches at one site kind and builds its modules with a function of the site.
 */
final class RoutedMethods {
    private static final int RANK = 4;

    private RoutedMethods() {}

    /** A method {@code id} attaching {@code factory}'s module at every site of {@code kind}. */
    static PeftMethod method(String id, SiteKind kind, Class<? extends MethodModule> moduleType, Function<Site, MethodModule> factory) {
        requireNonNull(factory, "factory is null");
        MethodDescriptor descriptor = new MethodDescriptor(id, "1.0.0", SpiVersion.CURRENT, id.toUpperCase(java.util.Locale.ROOT).replace('-', '_'), Set.of(kind),
                moduleType, OptionSchema.of(), Map.of(), "a fixed test module, for routing tests");
        return new PeftMethod() {
            @Override
            public MethodDescriptor descriptor() {
                return descriptor;
            }

            @Override
            public MethodInstance create(MethodOptions options, ModelContext model) {
                return new MethodInstance() {
                    @Override
                    public MethodModule attach(Site site) {
                        return factory.apply(site);
                    }

                    @Override
                    public long trainableParameterCount(List<Site> sites) {
                        return 0;
                    }
                };
            }
        };
    }

    /** Values {@code mean + N(0, deviation)} from a {@link Random} seeded with {@code seed}, as float32. */
    static Initializer fixed(long seed, float mean, float deviation) {
        return (NDManager manager, Shape shape, DataType dataType) -> {
            Random random = new Random(seed);
            float[] values = new float[Math.toIntExact(shape.size())];
            for (int index = 0; index < values.length; index++) {
                values[index] = mean + deviation * (float) random.nextGaussian();
            }
            return manager.create(values, shape);
        };
    }

    /** LoRA-like: {@code delta(x) = x·Aᵀ·Bᵀ}, scaling 0.5; merges {@code ΔW = 0.5·B·A}. */
    static final class LowRank extends LinearModuleBlock.MergeableAdditive {
        private final Parameter down;
        private final Parameter up;

        LowRank(Site site, long seed) {
            super((LinearSite) site);
            LinearSite linear = (LinearSite) site;
            down = addParameter(Parameter.builder().setName("down").setType(Parameter.Type.WEIGHT).optShape(new Shape(RANK, linear.inFeatures()))
                    .optInitializer(fixed(seed + site.name().hashCode(), 0f, 0.2f)).build());
            up = addParameter(Parameter.builder().setName("up").setType(Parameter.Type.WEIGHT).optShape(new Shape(linear.outFeatures(), RANK))
                    .optInitializer(fixed(seed + 1 + site.name().hashCode(), 0f, 0.2f)).build());
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

    /** IA³-like: {@code x ⊙ l} or {@code y ⊙ l}. */
    static final class Scale extends LinearModuleBlock.Scaling {
        private final Side side;
        private final Parameter factors;

        Scale(Site site, Side side, long seed) {
            super((LinearSite) site);
            LinearSite linear = (LinearSite) site;
            this.side = side;
            factors = addParameter(Parameter.builder().setName("factors").setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(side == Side.INPUT ? linear.inFeatures() : linear.outFeatures()))
                    .optInitializer(fixed(seed + site.name().hashCode(), 1f, 0.3f)).build());
        }

        @Override
        public ScalingLinearModule.Side side() {
            return side;
        }

        @Override
        public NDArray scale(ParameterStore parameterStore, NDArray x, boolean training) {
            return parameterStore.getValue(factors, x.getDevice(), training);
        }
    }

    /** A weight transform (BAT-like) {@code ΔW = W ⊙ c}, with {@code c} one factor per output row. */
    static final class WeightDelta extends LinearModuleBlock.WeightTransform {
        private final Parameter rows;

        WeightDelta(Site site, long seed) {
            super((LinearSite) site);
            rows = addParameter(Parameter.builder().setName("rows").setType(Parameter.Type.WEIGHT).optShape(new Shape(((LinearSite) site).outFeatures(), 1))
                    .optInitializer(fixed(seed + site.name().hashCode(), 0f, 0.3f)).build());
        }

        @Override
        public NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training) {
            return weight.mul(parameterStore.getValue(rows, weight.getDevice(), training));
        }
    }
}
