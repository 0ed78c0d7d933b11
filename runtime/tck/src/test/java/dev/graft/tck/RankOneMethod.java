package dev.graft.tck;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.graft.spi.AdditiveLinearModule;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A minimal correct method for testing the kit itself: a rank-one update {@code s·b·aᵀ} with {@code b = 0} at
 * init. {@code countBias} makes its declared parameter count wrong, to show the kit catches it.
 */
final class RankOneMethod implements PeftMethod {
    private final long countBias;

    RankOneMethod(long countBias) {
        this.countBias = countBias;
    }

    @Override
    public MethodDescriptor descriptor() {
        return new MethodDescriptor("rank-one", "1.0.0", SpiVersion.CURRENT, "RANK_ONE", Set.of(SiteKind.LINEAR), MergeableLinearModule.class,
                OptionSchema.of(OptionSpec.number("scale", 1.0, "the factor s of the update")), Map.of(), "a rank-one update for testing the kit");
    }

    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        float scale = (float) options.getDouble("scale");
        if (scale <= 0) {
            throw new InvalidOptionsException("Method 'rank-one': option 'scale' must be positive, got " + scale);
        }
        return new MethodInstance() {
            @Override
            public MethodModule attach(Site site) {
                return new Module((LinearSite) site, scale);
            }

            @Override
            public long trainableParameterCount(List<Site> sites) {
                long count = countBias;
                for (Site site : sites) {
                    count += ((LinearSite) site).inFeatures() + ((LinearSite) site).outFeatures();
                }
                return count;
            }
        };
    }

    private static final class Module extends AbstractBlock implements AdditiveLinearModule, MergeableLinearModule {
        private final LinearSite site;
        private final float scale;
        private final Parameter a;
        private final Parameter b;

        Module(LinearSite site, float scale) {
            super((byte) 1);
            this.site = site;
            this.scale = scale;
            a = addParameter(Parameter.builder().setName("a").setType(Parameter.Type.WEIGHT).optShape(new Shape(1, site.inFeatures()))
                    .optInitializer(new NormalInitializer(0.1f)).build());
            b = addParameter(Parameter.builder().setName("b").setType(Parameter.Type.WEIGHT).optShape(new Shape(site.outFeatures(), 1))
                    .optInitializer(new ConstantInitializer(0f)).build());
        }

        @Override
        public Site site() {
            return site;
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
            NDArray aValue = parameterStore.getValue(a, x.getDevice(), training);
            NDArray bValue = parameterStore.getValue(b, x.getDevice(), training);
            return x.matMul(aValue.transpose()).matMul(bValue.transpose());
        }

        @Override
        public float scaling() {
            return scale;
        }

        @Override
        public LinearWeights merge(LinearWeights base) {
            return new LinearWeights(base.weight().add(b.getArray().matMul(a.getArray()).mul(scale)), base.bias());
        }

        @Override
        public LinearWeights unmerge(LinearWeights merged) {
            return new LinearWeights(merged.weight().sub(b.getArray().matMul(a.getArray()).mul(scale)), merged.bias());
        }

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(delta(parameterStore, inputs.singletonOrThrow(), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(inputShapes[0].get(0), site.outFeatures())};
        }
    }
}
