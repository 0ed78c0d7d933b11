package dev.graft.runtime.store;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.util.PairList;
import dev.graft.spi.AdditiveLinearModule;
import dev.graft.spi.LinearSite;
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

/** A tiny method for store tests: adds a learned vector {@code shift} (out) to a linear site's output. */
public final class ShiftMethod implements PeftMethod {
    @Override
    public MethodDescriptor descriptor() {
        return new MethodDescriptor("shift", "1.0.0", SpiVersion.CURRENT, "SHIFT", Set.of(SiteKind.LINEAR), dev.graft.spi.AdditiveLinearModule.class,
                OptionSchema.of(OptionSpec.number("scale", 1.0, "factor of the shift"), OptionSpec.string("note", null, "free text, unused")), Map.of("llama", List.of("q_proj")), "adds a learned vector");
    }

    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        float scale = (float) options.getDouble("scale");
        return new MethodInstance() {
            @Override
            public MethodModule attach(Site site) {
                return new Module((LinearSite) site, scale);
            }

            @Override
            public long trainableParameterCount(List<Site> sites) {
                return sites.stream().mapToLong(site -> ((LinearSite) site).outFeatures()).sum();
            }
        };
    }

    private static final class Module extends AbstractBlock implements AdditiveLinearModule {
        private final LinearSite site;
        private final float scale;
        private final Parameter shift;

        Module(LinearSite site, float scale) {
            super((byte) 1);
            this.site = site;
            this.scale = scale;
            shift = addParameter(Parameter.builder().setName("shift").setType(Parameter.Type.BIAS).optShape(new Shape(site.outFeatures()))
                    .optInitializer(new ConstantInitializer(0f)).build());
        }

        @Override
        public Site site() {
            return site;
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
            NDArray value = parameterStore.getValue(shift, x.getDevice(), training);
            return x.sum(new int[] {-1}, true).mul(0).add(value);
        }

        @Override
        public float scaling() {
            return scale;
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
