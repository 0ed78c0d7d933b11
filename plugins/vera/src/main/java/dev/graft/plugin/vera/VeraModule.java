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
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;

/**
 * VeRA at one linear site: two trainable vectors, {@code vera_lambda_b} {@code (out)} and {@code vera_lambda_d}
 * {@code (r)}, scaling slices of the adapter's shared frozen projections {@code A_s = vera_A[:, :in]} and
 * {@code B_s = vera_B[:out, :]}:
 * <pre>
 *   Δy = λ_b ⊙ ((λ_d ⊙ (dropout(x)·A_sᵀ))·B_sᵀ)        merge: W ± (λ_b·B_s)(λ_d·A_s)
 * </pre>
 * where each λ scales the rows of its matrix. The parameter names are PEFT's checkpoint key suffixes; the shared
 * projections are the instance's, not the module's, so they are saved once ({@code base_model.vera_A}, ...).
 */
public final class VeraModule extends LinearModuleBlock.Additive implements MergeableLinearModule {
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

    /**
     * Makes the module and registers its two vectors.
     *
     * @param site the linear site
     * @param configuration the adapter's options
     * @param projectionA the shared {@code vera_A}, shape {@code (r, max_in)} with {@code max_in ≥ in}
     * @param projectionB the shared {@code vera_B}, shape {@code (max_out, r)} with {@code max_out ≥ out}
     */
    public VeraModule(LinearSite site, VeraConfiguration configuration, Parameter projectionA, Parameter projectionB) {
        super(site);
        requireNonNull(configuration, "configuration is null");
        this.projectionA = requireNonNull(projectionA, "projectionA is null");
        this.projectionB = requireNonNull(projectionB, "projectionB is null");
        this.rank = configuration.rank();
        this.dropout = (float) configuration.dropout();
        Shape shapeA = projectionA.getShape() != null ? projectionA.getShape() : projectionA.getArray().getShape();
        Shape shapeB = projectionB.getShape() != null ? projectionB.getShape() : projectionB.getArray().getShape();
        if (shapeA.dimension() != 2 || shapeA.get(0) != rank || shapeA.get(1) < site.inFeatures()
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
                .optInitializer(new ConstantInitializer(configuration.initWeights() ? 0f : 1f))
                .build());
        this.lambdaD = addParameter(Parameter.builder()
                .setName(LAMBDA_D)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank))
                .optInitializer(configuration.initWeights() ? new ConstantInitializer((float) configuration.initialScale()) : new NormalInitializer(1f))
                .build());
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
            NDArray input = training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
            NDArray hidden = Linear.linear(input, slicedA(sharedA)).singletonOrThrow().mul(rankScale);
            return scope.ret(Linear.linear(hidden, slicedB(sharedB)).singletonOrThrow().mul(outputScale));
        }
    }

    /** {@code W + (λ_b·B_s)(λ_d·A_s)}, computed in float32; the bias is unchanged. */
    @Override
    public LinearWeights merge(LinearWeights base) {
        return addDelta(requireNonNull(base, "base is null"), 1f);
    }

    /** {@code W − (λ_b·B_s)(λ_d·A_s)}; the inverse of {@link #merge}. */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        return addDelta(requireNonNull(merged, "merged is null"), -1f);
    }

    private LinearWeights addDelta(LinearWeights weights, float sign) {
        NDArray weight = weights.weight();
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("VeRA at %s: weight has shape %s, expected %s", site().name(), weight.getShape(), expected));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, initialized(projectionA), initialized(projectionB), initialized(lambdaB), initialized(lambdaD));
            NDArray scaledB = slicedB(projectionB.getArray()).toType(DataType.FLOAT32, false)
                    .mul(lambdaB.getArray().toType(DataType.FLOAT32, false).reshape(site().outFeatures(), 1));
            NDArray scaledA = slicedA(projectionA.getArray()).toType(DataType.FLOAT32, false)
                    .mul(lambdaD.getArray().toType(DataType.FLOAT32, false).reshape(rank, 1));
            NDArray updated = weight.toType(DataType.FLOAT32, false).add(scaledB.matMul(scaledA).muli(sign)).toType(weight.getDataType(), false);
            return new LinearWeights(scope.ret(updated), weights.bias());
        }
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
}
