package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A base for the DJL block of a module at a {@link LinearSite}: it holds the site and answers {@link #site()},
 * and implements DJL's {@code forward} by passing the single input to {@link #forwardLinear}. Extend the subclass
 * that matches what the module contributes; it implements {@code forwardLinear} with the module's own method:
 * <ul>
 *   <li>{@link Additive}: an {@link AdditiveLinearModule}; {@code forward(x)} is {@code delta(x)}, {@code (..., out)};</li>
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
