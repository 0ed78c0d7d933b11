package dev.graft.plugin.vera;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import dev.graft.spi.Dropouts;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;

/**
 * VeRA at one linear site: two trainable vectors, {@code vera_lambda_b} {@code (out)} and {@code vera_lambda_d}
 * {@code (r)}, scaling slices of the adapter's shared frozen projections {@code A_s = vera_A[:, :in]} and
 * {@code B_s = vera_B[:out, :]}:
 * <pre>
 *   Δy = λ_b ⊙ ((λ_d ⊙ (dropout(x)·A_sᵀ))·B_sᵀ)        merge: W ± (λ_b·B_s)(λ_d·A_s)
 * </pre>
 * where each λ scales the rows of its matrix. The parameter names are PEFT's checkpoint key suffixes; the shared
 * projections are the instance's, not the module's, so they are saved once ({@code base_model.vera_A}, ...). The
 * module declares {@code ΔW = (λ_b·B_s)(λ_d·A_s)}; the SPI base merges and unmerges it.
 */
public final class VeraModule extends LinearModuleBlock.MergeableAdditive {
    /** The parameter name (and checkpoint key suffix) of the output scaling vector, shape {@code (out)}. */
    public static final String LAMBDA_B = "vera_lambda_b";
    /** The parameter name (and checkpoint key suffix) of the rank scaling vector, shape {@code (r)}. */
    public static final String LAMBDA_D = "vera_lambda_d";

    private final int rank;
    private final float dropout;
    private final Parameter projectionA;
    private final Parameter projectionB;
    private final Parameter lambdaB;
    private final Parameter lambdaD;

    private VeraModule(Builder builder) {
        super(builder.site);
        LinearSite site = builder.site;
        this.projectionA = requireNonNull(builder.projectionA, "projectionA is null");
        this.projectionB = requireNonNull(builder.projectionB, "projectionB is null");
        if (!(builder.dropout >= 0 && builder.dropout < 1)) {
            throw new IllegalArgumentException(format("VeRA at %s: dropout must be in [0, 1), but is %s", site.name(), builder.dropout));
        }
        this.dropout = builder.dropout;
        Shape shapeA = projectionA.getShape() != null ? projectionA.getShape() : projectionA.getArray().getShape();
        Shape shapeB = projectionB.getShape() != null ? projectionB.getShape() : projectionB.getArray().getShape();
        this.rank = shapeA.dimension() == 2 ? (int) shapeA.get(0) : 0;
        if (shapeA.dimension() != 2 || rank < 1 || shapeA.get(1) < site.inFeatures()
                || shapeB.dimension() != 2 || shapeB.get(1) != rank || shapeB.get(0) < site.outFeatures()) {
            throw new IllegalArgumentException(format(
                    "VeRA at %s (in=%d, out=%d, r=%d): the shared projections vera_A %s and vera_B %s are too small; "
                            + "they are sized to the sites the adapter was prepared for",
                    site.name(), site.inFeatures(), site.outFeatures(), rank, shapeA, shapeB));
        }
        this.lambdaB = addParameter(Parameter.builder()
                .setName(LAMBDA_B)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(site.outFeatures()))
                .optInitializer(new ConstantInitializer(builder.initWeights ? 0f : 1f))
                .build());
        this.lambdaD = addParameter(Parameter.builder()
                .setName(LAMBDA_D)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank))
                .optInitializer(builder.initWeights ? new ConstantInitializer(builder.initialScale) : new NormalInitializer(1f))
                .build());
    }

    /**
     * A builder for VeRA at {@code site}: {@code setProjections} is required.
     *
     * @param site the linear site
     */
    public static Builder builder(LinearSite site) {
        return new Builder(site);
    }

    @Override
    protected String label() {
        return "VeRA";
    }

    /** The rank {@code r} of the shared projections. */
    public int rank() {
        return rank;
    }

    /** Always 1: the λ vectors carry the scale. */
    @Override
    public float scaling() {
        return 1f;
    }

    /** {@code λ_b ⊙ ((λ_d ⊙ (dropout(x)·A_sᵀ))·B_sᵀ)}, shape {@code (..., out)}. */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        if (x.getShape().dimension() == 0 || x.getShape().getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "VeRA at %s: input has shape %s, but its last dimension must be in=%d", site().name(), x.getShape(), site().inFeatures()));
        }
        NDArray sharedA = parameterStore.getValue(projectionA, x.getDevice(), training);
        NDArray sharedB = parameterStore.getValue(projectionB, x.getDevice(), training);
        NDArray outputScale = parameterStore.getValue(lambdaB, x.getDevice(), training);
        NDArray rankScale = parameterStore.getValue(lambdaD, x.getDevice(), training);
        // The shared projections belong to the instance, not to this block, so the runtime's scope does not hold them:
        // this scope does, for the slices made from them.
        try (NDManager scope = x.getManager().newSubManager()) {
            scope.tempAttachAll(x, sharedA, sharedB);
            NDArray input = Dropouts.apply(x, dropout, training);
            NDArray hidden = Linear.linear(input, slicedA(sharedA)).singletonOrThrow().mul(rankScale);
            return scope.ret(Linear.linear(hidden, slicedB(sharedB)).singletonOrThrow().mul(outputScale));
        }
    }

    /**
     * {@code ΔW = (λ_b·B_s)(λ_d·A_s)} in float32. The shared projections are not this block's parameters, so they join
     * {@code scope} here for the call.
     */
    @Override
    protected NDArray deltaWeight(NDManager scope) {
        scope.tempAttachAll(initialized(projectionA), initialized(projectionB));
        NDArray scaledB = slicedB(projectionB.getArray()).toType(DataType.FLOAT32, false)
                .mul(lambdaB.getArray().toType(DataType.FLOAT32, false).reshape(site().outFeatures(), 1));
        NDArray scaledA = slicedA(projectionA.getArray()).toType(DataType.FLOAT32, false)
                .mul(lambdaD.getArray().toType(DataType.FLOAT32, false).reshape(rank, 1));
        return scaledB.matMul(scaledA);
    }

    private NDArray slicedA(NDArray sharedA) {
        return sharedA.get(new NDIndex(":, :{}", site().inFeatures()));
    }

    private NDArray slicedB(NDArray sharedB) {
        return sharedB.get(new NDIndex(":{}, :", site().outFeatures()));
    }

    private NDArray initialized(Parameter parameter) {
        if (!parameter.isInitialized()) {
            throw new IllegalStateException(format("VeRA at %s: parameter %s is not initialized", site().name(), parameter.getName()));
        }
        return parameter.getArray();
    }

    @Override
    public String toString() {
        return format("VeraModule(%s, r=%d, dropout=%s)", site().name(), rank, dropout);
    }

    /** Builds a {@link VeraModule} in DJL's style: {@code setX} for what is required, {@code optX} for what has a default. */
    public static final class Builder {
        private final LinearSite site;
        private Parameter projectionA;
        private Parameter projectionB;
        private float dropout;
        private float initialScale = 0.1f;
        private boolean initWeights = true;

        private Builder(LinearSite site) {
            this.site = requireNonNull(site, "site is null");
        }

        /**
         * The adapter's shared frozen projections (required): {@code vera_A} of shape {@code (r, max_in)} with
         * {@code max_in ≥ in}, and {@code vera_B} of shape {@code (max_out, r)} with {@code max_out ≥ out}. The rank is theirs.
         */
        public Builder setProjections(Parameter projectionA, Parameter projectionB) {
            this.projectionA = requireNonNull(projectionA, "projectionA is null");
            this.projectionB = requireNonNull(projectionB, "projectionB is null");
            return this;
        }

        /** The dropout probability on the input while training, in {@code [0, 1)} (0 by default, {@code vera_dropout}). */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** The start value of every {@code vera_lambda_d} entry with {@code init_weights} ({@code d_initial}, 0.1 by default). */
        public Builder optInitialScale(float initialScale) {
            this.initialScale = initialScale;
            return this;
        }

        /**
         * {@code init_weights}: true (the default) starts {@code λ_b = 0}, {@code λ_d = d_initial} (a no-op); false keeps
         * PEFT's untouched {@code λ_b = 1}, {@code λ_d ~ N(0, 1)}.
         */
        public Builder optInitWeights(boolean initWeights) {
            this.initWeights = initWeights;
            return this;
        }

        /** The module. */
        public VeraModule build() {
            return new VeraModule(this);
        }
    }
}
