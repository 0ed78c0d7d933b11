package dev.graft.tck;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
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
 * A minimal correct method for testing the kit itself: a rank-one update {@code ΔW = s·b·a} ({@code a: (1, in)},
 * {@code b: (out, 1)}, {@code b = 0} at init), saved as {@code a} and {@code b}. A {@link Defect} plants one bug
 * that the kit must catch.
 */
final class RankOneMethod implements PeftMethod {
    /** A planted bug. */
    enum Defect {
        /** None: the kit passes. */
        NONE,
        /** The declared trainable parameter count is one too many. */
        WRONG_COUNT,
        /** The forward closes the array of {@code a} it got from the ParameterStore. */
        CLOSES_PARAMETER,
        /** The forward takes the array of {@code a} it got from the ParameterStore into its own scope, which closes it. */
        KEEPS_PARAMETER,
        /** A training forward creates a constant in the model's manager (the manager the module was initialised in), leaking it. */
        TEMPORARY_IN_MODEL_MANAGER,
        /** Forward and merge both use {@code 2·s·b·a}: consistent, so merge equivalence holds, but not the method's formula. */
        WRONG_FORMULA,
        /** The factors' shapes are exchanged ({@code a: (in, 1)}, {@code b: (1, out)}), forward and merge consistent with that. */
        SWAPPED_SHAPES
    }

    private final Defect defect;

    RankOneMethod(Defect defect) {
        this.defect = defect;
    }

    /** The correct method's checkpoint at a site: {@code a → (1, in)}, {@code b → (out, 1)}. */
    static Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of("a", new Shape(1, linear.inFeatures()), "b", new Shape(linear.outFeatures(), 1));
    }

    /** The correct method's update: {@code ΔW = s·b·a}. */
    static float[][] referenceDelta(LinearSite site, CheckpointTensors tensors, double scale) {
        return Matrices.scaled(Matrices.product(tensors.site(site, "b").matrix(), tensors.site(site, "a").matrix()), scale);
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
                return new Module((LinearSite) site, scale, defect);
            }

            @Override
            public long trainableParameterCount(List<Site> sites) {
                long count = defect == Defect.WRONG_COUNT ? 1 : 0;
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
        private final Defect defect;
        private final Parameter a;
        private final Parameter b;
        private NDManager initializedIn;

        Module(LinearSite site, float scale, Defect defect) {
            super((byte) 1);
            this.site = site;
            this.scale = defect == Defect.WRONG_FORMULA ? 2 * scale : scale;
            this.defect = defect;
            boolean swapped = defect == Defect.SWAPPED_SHAPES;
            a = addParameter(Parameter.builder().setName("a").setType(Parameter.Type.WEIGHT)
                    .optShape(swapped ? new Shape(site.inFeatures(), 1) : new Shape(1, site.inFeatures()))
                    .optInitializer(new NormalInitializer(0.1f)).build());
            b = addParameter(Parameter.builder().setName("b").setType(Parameter.Type.WEIGHT)
                    .optShape(swapped ? new Shape(1, site.outFeatures()) : new Shape(site.outFeatures(), 1))
                    .optInitializer(new ConstantInitializer(0f)).build());
        }

        @Override
        public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
            initializedIn = manager;
            super.initialize(manager, dataType, inputShapes);
        }

        @Override
        public Site site() {
            return site;
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
            NDArray aValue = parameterStore.getValue(a, x.getDevice(), training);
            NDArray bValue = parameterStore.getValue(b, x.getDevice(), training);
            NDArray result = defect == Defect.SWAPPED_SHAPES ? x.matMul(aValue).matMul(bValue) : x.matMul(aValue.transpose()).matMul(bValue.transpose());
            if (defect == Defect.CLOSES_PARAMETER) {
                aValue.close();
            }
            else if (defect == Defect.KEEPS_PARAMETER) {
                NDManager own = x.getManager().newSubManager();
                aValue.attach(own);
                own.close();
            }
            else if (defect == Defect.TEMPORARY_IN_MODEL_MANAGER && training) {
                result = result.mul(initializedIn.create(1f));
            }
            return result;
        }

        @Override
        public float scaling() {
            return scale;
        }

        @Override
        public LinearWeights merge(LinearWeights base) {
            return new LinearWeights(base.weight().add(update()), base.bias());
        }

        @Override
        public LinearWeights unmerge(LinearWeights merged) {
            return new LinearWeights(merged.weight().sub(update()), merged.bias());
        }

        private NDArray update() {
            NDArray product = defect == Defect.SWAPPED_SHAPES ? a.getArray().matMul(b.getArray()).transpose() : b.getArray().matMul(a.getArray());
            return product.mul(scale);
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
