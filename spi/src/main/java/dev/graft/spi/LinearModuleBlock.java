package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;

/**
 * A base for the DJL block of a module at a {@link LinearSite}: it holds the site and answers {@link #site()},
 * and implements DJL's {@code forward} by passing the single input to {@link #forwardLinear}. Extend the subclass
 * that matches what the module contributes; it implements {@code forwardLinear} with the module's own method:
 * <ul>
 *   <li>{@link Additive}: an {@link AdditiveLinearModule}; {@code forward(x)} is {@code delta(x)}, {@code (..., out)};</li>
 *   <li>{@link MergeableAdditive}: an additive module that merges; it declares {@code ΔW} and the base does the merge;</li>
 *   <li>{@link Scaling}: a {@link ScalingLinearModule}; {@code forward(x)} is {@code scale(x)}, {@code (in)} or {@code (out)};</li>
 *   <li>{@link WeightTransform}: a {@link WeightTransformModule}; {@code forward(W)} is {@code weightDelta(W)}, {@code (out, in)}.</li>
 * </ul>
 * The runtime never calls {@code forward} on a module (see {@link MethodModule}); it is there so that the module is a
 * well-behaved DJL block. A subclass registers its parameters in its constructor with {@code addParameter}.
 *
 * <p>{@link #requireLinear} is the matching check for a {@link MethodInstance} that attaches to linear sites only.
 */
public abstract class LinearModuleBlock extends AbstractBlock implements MethodModule {
    private static final byte VERSION = 1;

    private final LinearSite site;

    /**
     * A block (DJL block version 1) at {@code site}.
     *
     * @throws NullPointerException if {@code site} is null
     */
    protected LinearModuleBlock(LinearSite site) {
        super(VERSION);
        this.site = requireNonNull(site, "site is null");
    }

    /**
     * The site as a {@link LinearSite}, or an {@link IllegalArgumentException} that names the method, the site and
     * its kind, for a {@link MethodInstance} that attaches to linear sites only.
     *
     * @param site the site given to {@code attach} (or {@code prepare}, {@code trainableParameterCount})
     * @param methodId the method's id, as in its {@link MethodDescriptor}
     * @throws NullPointerException if {@code site} is null
     */
    public static LinearSite requireLinear(Site site, String methodId) {
        requireNonNull(site, "site is null");
        if (!(site instanceof LinearSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to linear sites only, but %s is a %s site", methodId, site.name(), site.kind()));
        }
        return (LinearSite) site;
    }

    @Override
    public final LinearSite site() {
        return site;
    }

    /** The method's name in messages ("LoRA at q_proj: ..."); the class's simple name by default. */
    protected String label() {
        return getClass().getSimpleName();
    }

    /**
     * What {@code forward} returns for its single input: the module's term for that input. The subclasses below
     * implement it; extend this class directly only for a kind of contribution they do not cover.
     *
     * @param parameterStore where to read parameter values
     * @param input the single input of {@code forward}
     * @param training whether training is on
     */
    protected abstract NDArray forwardLinear(ParameterStore parameterStore, NDArray input, boolean training);

    /** Returns {@link #forwardLinear} of the single input. */
    @Override
    protected final NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forwardLinear(parameterStore, inputs.singletonOrThrow(), training));
    }

    /** {@code (..., in)} gives {@code (..., out)}: the shape of the site's output. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape input = inputShapes[0];
        return new Shape[] {input.slice(0, input.dimension() - 1).add(site.outFeatures())};
    }

    /** The base of an {@link AdditiveLinearModule}: {@code forward(x)} is {@code delta(x)}, shape {@code (..., out)}. */
    public abstract static class Additive extends LinearModuleBlock implements AdditiveLinearModule {
        /** A module at {@code site}; see {@link LinearModuleBlock#LinearModuleBlock(LinearSite)}. */
        protected Additive(LinearSite site) {
            super(site);
        }

        /** Returns {@link #delta}. */
        @Override
        protected final NDArray forwardLinear(ParameterStore parameterStore, NDArray input, boolean training) {
            return delta(parameterStore, input, training);
        }
    }

    /**
     * The base of an {@link AdditiveLinearModule} that merges: the module declares its weight update {@link #deltaWeight}
     * (and, if it has one, {@link #deltaBias}) and this class does {@code W ± ΔW} for {@link #merge} and {@link #unmerge}:
     * the shape check, the float32 arithmetic, the cast back to the stored data type and the copy of an unchanged bias.
     */
    public abstract static class MergeableAdditive extends Additive implements MergeableLinearModule {
        /** A module at {@code site}; see {@link LinearModuleBlock#LinearModuleBlock(LinearSite)}. */
        protected MergeableAdditive(LinearSite site) {
            super(site);
        }

        /**
         * The weight update {@code ΔW} in float32, shape {@code (out, in)}, WITH the scaling applied: exactly what
         * {@link #merge} adds to {@code W} (for LoRA {@code s·B·A}). Read parameters with {@code getArray()}; make the
         * result and every temporary in {@code scope} (the runtime frees it after the merge).
         *
         * @param scope the memory scope of the merge; also gives the device
         */
        protected abstract NDArray deltaWeight(NDManager scope);

        /**
         * The bias update {@code Δb} in float32, shape {@code (out)}, with the scaling applied, made in {@code scope};
         * {@code null} (the default) when the module leaves the bias alone.
         */
        protected NDArray deltaBias(NDManager scope) {
            return null;
        }

        /** {@code W + ΔW} (and {@code b + Δb}), computed in float32 and cast back. The inputs are not modified. */
        @Override
        public final LinearWeights merge(LinearWeights base) {
            return add(requireNonNull(base, "base is null"), false);
        }

        /** {@code W − ΔW} (and {@code b − Δb}): the inverse of {@link #merge}. */
        @Override
        public final LinearWeights unmerge(LinearWeights merged) {
            return add(requireNonNull(merged, "merged is null"), true);
        }

        private LinearWeights add(LinearWeights weights, boolean subtract) {
            NDArray weight = weights.weight();
            Shape expected = new Shape(site().outFeatures(), site().inFeatures());
            if (!weight.getShape().equals(expected)) {
                throw new IllegalArgumentException(format("%s at %s: weight has shape %s, expected %s", label(), site().name(), weight.getShape(), expected));
            }
            for (Pair<String, Parameter> parameter : getParameters()) {
                if (!parameter.getValue().isInitialized()) {
                    throw new IllegalStateException(format("%s at %s: parameter %s is not initialized", label(), site().name(), parameter.getKey()));
                }
            }
            try (NDManager scope = weight.getManager().newSubManager()) {
                // Every input joins the scope for the call, so each intermediate lands there rather than on the model's
                // manager; tempAttachAll gives the inputs back when the scope closes.
                scope.tempAttachAll(weight);
                for (Pair<String, Parameter> parameter : getParameters()) {
                    scope.tempAttachAll(parameter.getValue().getArray());
                }
                NDArray deltaWeight = deltaWeight(scope);
                if (!deltaWeight.getShape().equals(expected)) {
                    throw new IllegalStateException(format("%s at %s: deltaWeight has shape %s, expected %s", label(), site().name(), deltaWeight.getShape(), expected));
                }
                NDArray delta = deltaWeight.toType(DataType.FLOAT32, false);
                NDArray float32 = weight.toType(DataType.FLOAT32, false);
                NDArray mergedWeight = (subtract ? float32.sub(delta) : float32.add(delta)).toType(weight.getDataType(), false);
                NDArray deltaBias = deltaBias(scope);
                if (deltaBias != null && !weights.hasBias()) {
                    throw new IllegalStateException(format("%s at %s: impossible to merge the bias update because the base layer has no bias",
                            label(), site().name()));
                }
                NDArray mergedBias = null;
                if (weights.hasBias()) {
                    NDArray bias = weights.bias();
                    scope.tempAttachAll(bias);
                    if (deltaBias == null) {
                        mergedBias = bias.duplicate();
                    }
                    else {
                        NDArray biasFloat32 = bias.toType(DataType.FLOAT32, false);
                        NDArray biasDelta = deltaBias.toType(DataType.FLOAT32, false);
                        mergedBias = (subtract ? biasFloat32.sub(biasDelta) : biasFloat32.add(biasDelta)).toType(bias.getDataType(), false);
                    }
                    scope.ret(mergedBias);
                }
                return new LinearWeights(scope.ret(mergedWeight), mergedBias);
            }
        }
    }

    /**
     * The base of a {@link ScalingLinearModule}: {@code forward(x)} is {@code scale(x)}, shape {@code (in)} or
     * {@code (out)} by {@link #side()}.
     */
    public abstract static class Scaling extends LinearModuleBlock implements ScalingLinearModule {
        /** A module at {@code site}; see {@link LinearModuleBlock#LinearModuleBlock(LinearSite)}. */
        protected Scaling(LinearSite site) {
            super(site);
        }

        /** Returns {@link #scale}. */
        @Override
        protected final NDArray forwardLinear(ParameterStore parameterStore, NDArray input, boolean training) {
            return scale(parameterStore, input, training);
        }

        /** {@code (in)} for {@link Side#INPUT}, {@code (out)} for {@link Side#OUTPUT}, whatever the input. */
        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(side() == Side.INPUT ? site().inFeatures() : site().outFeatures())};
        }
    }

    /**
     * The base of a {@link WeightTransformModule}: {@code forward(W)} is {@code weightDelta(W)}, shape
     * {@code (out, in)}; its single input is the site's weight, not an activation.
     */
    public abstract static class WeightTransform extends LinearModuleBlock implements WeightTransformModule {
        /** A module at {@code site}; see {@link LinearModuleBlock#LinearModuleBlock(LinearSite)}. */
        protected WeightTransform(LinearSite site) {
            super(site);
        }

        /** Returns {@link #weightDelta}. */
        @Override
        protected final NDArray forwardLinear(ParameterStore parameterStore, NDArray input, boolean training) {
            return weightDelta(parameterStore, input, training);
        }

        /** {@code (out, in)}, whatever the input. */
        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(site().outFeatures(), site().inFeatures())};
        }
    }
}
