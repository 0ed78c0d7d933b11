package dev.graft.plugin.plora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;

import dev.graft.spi.Scalars;
import java.util.List;

/**
 * PeriodicLoRA at one linear site: a LoRA pair with PEFT's tensors, {@code lora_A.weight} {@code (r, in)} and
 * {@code lora_B.weight} {@code (out, r)}, contributing {@code s·B(A(dropout(x)))} to the site's output, plus the
 * two operations of an offload: {@link #offloaded} folds a share of {@code s·B·A} into the base weights, and
 * {@link #keepShare} leaves the rest in the adapter.
 *
 * <p>The parameter names are the checkpoint key suffixes, so the default
 * {@link dev.graft.spi.MethodModule#saveState} writes LoRA's keys.
 */
public final class PloraModule extends LinearModuleBlock.Additive implements MergeableLinearModule {
    /** The parameter name (and checkpoint key suffix) of the down projection {@code A}, shape {@code (r, in)}. */
    public static final String LORA_A_WEIGHT = "lora_A.weight";
    /** The parameter name (and checkpoint key suffix) of the up projection {@code B}, shape {@code (out, r)}. */
    public static final String LORA_B_WEIGHT = "lora_B.weight";

    private final int rank;
    private final float scaling;
    private final float dropout;
    private final Parameter loraA;
    private final Parameter loraB;

    /**
     * Makes the module with LoRA's default initialisation: {@code A ~ U(±1/√in)} (Kaiming-uniform with
     * {@code a = √5}) and {@code B = 0}, so the module starts as a no-op.
     *
     * @param site the linear site
     * @param rank the rank {@code r}, greater than 0
     * @param scaling {@code s}: {@code α/r}, or {@code α/√r} with rsLoRA
     * @param dropout the dropout probability on the input while training, in {@code [0, 1)}
     */
    public PloraModule(LinearSite site, int rank, float scaling, float dropout) {
        super(site);
        if (rank <= 0) {
            throw new IllegalArgumentException(format("PLoRA at %s: rank must be greater than 0, but is %d", site.name(), rank));
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(format("PLoRA at %s: dropout must be in [0, 1), but is %s", site.name(), dropout));
        }
        this.rank = rank;
        this.scaling = scaling;
        this.dropout = dropout;
        this.loraA = addParameter(Parameter.builder()
                .setName(LORA_A_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank, site.inFeatures()))
                .optInitializer(new UniformInitializer(kaimingBound()))
                .build());
        this.loraB = addParameter(Parameter.builder()
                .setName(LORA_B_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(site.outFeatures(), rank))
                .optInitializer(new ConstantInitializer(0))
                .build());
    }

    /** The rank {@code r}. */
    public int rank() {
        return rank;
    }

    /** {@code α/r}, or {@code α/√r} with rsLoRA. */
    @Override
    public float scaling() {
        return scaling;
    }

    /** The two trainable parameters, {@code A} then {@code B}. */
    public List<Parameter> trainableParameters() {
        return List.of(loraA, loraB);
    }

    /** {@code dropout(x)·Aᵀ·Bᵀ}, unscaled, shape {@code (..., out)}. */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        if (x.getShape().dimension() == 0 || x.getShape().getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "PLoRA at %s: input has shape %s, but its last dimension must be in=%d", site().name(), x.getShape(), site().inFeatures()));
        }
        NDArray down = parameterStore.getValue(loraA, x.getDevice(), training);
        NDArray up = parameterStore.getValue(loraB, x.getDevice(), training);
        NDArray input = training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        return Linear.linear(Linear.linear(input, down).singletonOrThrow(), up).singletonOrThrow();
    }

    /** {@code W + s·B·A}, computed in float32; the bias is unchanged. */
    @Override
    public LinearWeights merge(LinearWeights base) {
        return addUpdate(requireNonNull(base, "base is null"), scaling);
    }

    /** {@code W − s·B·A}; the inverse of {@link #merge}. */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        return addUpdate(requireNonNull(merged, "merged is null"), -scaling);
    }

    /**
     * The base weights with the share {@code share} of this module's update folded in: {@code W + share·s·B·A},
     * computed in float32 and cast back to the weight's data type. The result's arrays live on
     * {@code base.weight()}'s manager; {@code base} is not modified.
     *
     * @param base the current base weights
     * @param share the fraction of the update to fold in, {@code 1 − m} for momentum {@code m}
     */
    public LinearWeights offloaded(LinearWeights base, float share) {
        return addUpdate(requireNonNull(base, "base is null"), share * scaling);
    }

    /**
     * Keeps the share {@code momentum} of the update in the adapter, in place, after {@link #offloaded} took the
     * rest: with {@code momentum = 0}, {@code B ← 0} and {@code A} gets a fresh Kaiming-uniform draw (a new LoRA
     * start); otherwise {@code B ← m·B} and {@code A} is kept, so the adapter still contributes {@code m·s·B·A}.
     *
     * @param momentum {@code m} in {@code [0, 1)}
     */
    public void keepShare(float momentum) {
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException(format("PLoRA at %s: momentum must be in [0, 1), but is %s", site().name(), momentum));
        }
        NDArray down = initialized(loraA);
        NDArray up = initialized(loraB);
        try (NDManager scope = up.getManager().newSubManager()) {
            if (momentum == 0) {
                overwrite(up, scope.zeros(up.getShape(), DataType.FLOAT32));
                overwrite(down, scope.randomUniform(-kaimingBound(), kaimingBound(), down.getShape(), DataType.FLOAT32));
            }
            else {
                scope.tempAttachAll(up);
                overwrite(up, Scalars.times(up.toType(DataType.FLOAT32, true), momentum));
            }
        }
    }

    private static void overwrite(NDArray target, NDArray source) {
        ArrayValues.copy(target, source);
    }

    private float kaimingBound() {
        return (float) (1 / Math.sqrt(site().inFeatures()));
    }

    private LinearWeights addUpdate(LinearWeights weights, float factor) {
        NDArray weight = weights.weight();
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("PLoRA at %s: weight has shape %s, expected %s", site().name(), weight.getShape(), expected));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, initialized(loraA), initialized(loraB));
            NDArray down = loraA.getArray().toType(DataType.FLOAT32, false);
            NDArray up = loraB.getArray().toType(DataType.FLOAT32, false);
            NDArray updated = weight.toType(DataType.FLOAT32, false).add(up.matMul(down).muli(factor)).toType(weight.getDataType(), false);
            return new LinearWeights(scope.ret(updated), weights.bias());
        }
    }

    private NDArray initialized(Parameter parameter) {
        if (!parameter.isInitialized()) {
            throw new IllegalStateException(format("PLoRA at %s: parameter %s is not initialized", site().name(), parameter.getName()));
        }
        return parameter.getArray();
    }

    @Override
    public String toString() {
        return format("PloraModule(%s, r=%d, scaling=%s, dropout=%s)", site().name(), rank, scaling, dropout);
    }
}
