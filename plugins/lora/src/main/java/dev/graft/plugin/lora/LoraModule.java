package dev.graft.plugin.lora;

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
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.LowRankModule;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.Scalars;

/**
 * LoRA at one linear site, with Hugging Face PEFT's tensors and semantics: {@code lora_A.weight} of shape
 * {@code (r, in)}, {@code lora_B.weight} of shape {@code (out, r)} and, with {@code lora_bias}, {@code lora_B.bias} of
 * shape {@code (out)}. The site computes {@code y = x·Wᵀ + b + s·B(A(dropout(x)))} with {@code s = α/r} (or
 * {@code α/√r} with rsLoRA); merging folds {@code s·B·A} into {@code W} (and {@code s·lora_B.bias} into {@code b}).
 *
 * <p>The parameter names are the checkpoint keys relative to the site, so the default
 * {@link dev.graft.spi.MethodModule#saveState} writes PEFT's {@code <site>.lora_A.weight} and
 * {@code <site>.lora_B.weight}. {@link #forward} returns the unscaled {@link #delta}; the runtime calls
 * {@link #delta} directly.
 */
public final class LoraModule extends LinearModuleBlock.Additive implements MergeableLinearModule, LowRankModule {
    /** The parameter name (and checkpoint key suffix) of the down projection, {@code (r, in)}. */
    public static final String LORA_A_WEIGHT = "lora_A.weight";
    /** The parameter name (and checkpoint key suffix) of the up projection, {@code (out, r)}. */
    public static final String LORA_B_WEIGHT = "lora_B.weight";
    /** The parameter name (and checkpoint key suffix) of the up projection's bias, {@code (out)}, with {@code lora_bias}. */
    public static final String LORA_B_BIAS = "lora_B.bias";

    private final int rank;
    private final float scaling;
    private final float dropout;
    private final Parameter loraA;
    private final Parameter loraB;
    private final Parameter loraBBias;

    /**
     * Makes the module and registers its parameters with their shapes and initializers.
     *
     * @param site the linear site
     * @param rank the rank {@code r}, greater than 0
     * @param scaling the factor applied to {@link #delta} in plain composition
     * @param dropout the dropout probability on the input of {@code lora_A} while training, in {@code [0, 1)}
     * @param initialization how the matrices start
     * @param loraBias whether {@code lora_B} has a bias
     */
    public LoraModule(LinearSite site, int rank, float scaling, float dropout, LoraInitialization initialization, boolean loraBias) {
        super(site);
        requireNonNull(initialization, "initialization is null");
        if (rank <= 0) {
            throw new IllegalArgumentException(format("LoRA at %s: rank must be greater than 0, but is %d", site.name(), rank));
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(format("LoRA at %s: dropout must be in [0, 1), but is %s", site.name(), dropout));
        }
        this.rank = rank;
        this.scaling = scaling;
        this.dropout = dropout;
        Initializer upInitializer = initialization == LoraInitialization.LINEAR_DEFAULT
                ? new UniformInitializer((float) (1 / Math.sqrt(rank)))
                : new ConstantInitializer(0);
        Initializer downInitializer = initialization == LoraInitialization.GAUSSIAN
                ? new NormalInitializer(1f / rank)
                : new UniformInitializer((float) (1 / Math.sqrt(site.inFeatures())));
        this.loraA = addParameter(Parameter.builder()
                .setName(LORA_A_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank, site.inFeatures()))
                .optInitializer(downInitializer)
                .build());
        this.loraB = addParameter(Parameter.builder()
                .setName(LORA_B_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(site.outFeatures(), rank))
                .optInitializer(upInitializer)
                .build());
        this.loraBBias = loraBias
                ? addParameter(Parameter.builder()
                        .setName(LORA_B_BIAS)
                        .setType(Parameter.Type.BIAS)
                        .optShape(new Shape(site.outFeatures()))
                        .optInitializer(upInitializer)
                        .build())
                : null;
    }

    /** The rank {@code r} of this site (after {@code rank_pattern}). */
    public int rank() {
        return rank;
    }

    /** Whether {@code lora_B} has a bias ({@code lora_bias}). */
    public boolean hasLoraBias() {
        return loraBBias != null;
    }

    @Override
    public NDArray factorA() {
        return loraA.getArray();
    }

    @Override
    public NDArray factorB() {
        return loraB.getArray();
    }

    @Override
    public void setFactors(NDArray a, NDArray b) {
        copyInto(loraA, a);
        copyInto(loraB, b);
    }

    private void copyInto(Parameter parameter, NDArray source) {
        NDArray target = parameter.getArray();
        if (!target.getShape().equals(source.getShape())) {
            throw new IllegalArgumentException(format("LoRA at %s: %s must have shape %s, got %s", site().name(), parameter.getName(), target.getShape(), source.getShape()));
        }
        ArrayValues.copy(target, source);
    }

    /** {@code α/r}, or {@code α/√r} with rsLoRA, for this site's rank and alpha. */
    @Override
    public float scaling() {
        return scaling;
    }

    /**
     * {@code B(A(dropout(x)))}, unscaled: {@code dropout(x)·Aᵀ·Bᵀ} (plus {@code lora_B.bias}). Dropout applies only
     * when training with a probability above 0. Temporaries live in a sub-manager of {@code x}'s manager; the result
     * is attached to {@code x}'s manager.
     */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        if (x.getShape().dimension() == 0 || x.getShape().getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "LoRA at %s: input has shape %s, but its last dimension must be in=%d", site().name(), x.getShape(), site().inFeatures()));
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            scope.tempAttachAll(x);
            NDArray down = parameterStore.getValue(loraA, x.getDevice(), training);
            NDArray up = parameterStore.getValue(loraB, x.getDevice(), training);
            NDArray input = training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
            NDArray hidden = Linear.linear(input, down).singletonOrThrow();
            NDArray result = loraBBias == null
                    ? Linear.linear(hidden, up).singletonOrThrow()
                    : Linear.linear(hidden, up, parameterStore.getValue(loraBBias, x.getDevice(), training)).singletonOrThrow();
            return scope.ret(result);
        }
    }

    /**
     * {@code W + s·B·A} (and {@code b + s·lora_B.bias} with {@code lora_bias}), computed in float32 and cast back to the
     * weight's data type. The inputs are not modified; the results are new arrays on {@code base.weight()}'s manager.
     *
     * @throws IllegalStateException with {@code lora_bias} on a site without a bias, as in PEFT
     */
    @Override
    public LinearWeights merge(LinearWeights base) {
        return addDelta(requireNonNull(base, "base is null"), scaling);
    }

    /** {@code W − s·B·A} (and {@code b − s·lora_B.bias}); the inverse of {@link #merge}. */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        return addDelta(requireNonNull(merged, "merged is null"), -scaling);
    }

    private LinearWeights addDelta(LinearWeights weights, float factor) {
        NDArray weight = weights.weight();
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("LoRA at %s: weight has shape %s, expected %s", site().name(), weight.getShape(), expected));
        }
        if (loraBBias != null && !weights.hasBias()) {
            throw new IllegalStateException(format(
                    "LoRA at %s: impossible to merge with lora_bias=true because the base layer has no bias", site().name()));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            // Every input joins the scope for the call, so each intermediate (and any float32 or device copy) lands
            // there rather than on the model's manager; tempAttachAll gives the inputs back when the scope closes.
            scope.tempAttachAll(weight, initialized(loraA), initialized(loraB));
            NDArray down = float32(loraA.getArray(), weight);
            NDArray up = float32(loraB.getArray(), weight);
            NDArray mergedWeight = float32(weight, weight).add(up.matMul(down).muli(factor)).toType(weight.getDataType(), false);
            NDArray mergedBias = null;
            if (weights.hasBias()) {
                NDArray bias = weights.bias();
                scope.tempAttachAll(bias);
                if (loraBBias == null) {
                    mergedBias = bias.duplicate();
                }
                else {
                    scope.tempAttachAll(initialized(loraBBias));
                    NDArray biasDelta = Scalars.times(float32(loraBBias.getArray(), weight), factor);
                    mergedBias = float32(bias, weight).add(biasDelta).toType(bias.getDataType(), false);
                }
                scope.ret(mergedBias);
            }
            return new LinearWeights(scope.ret(mergedWeight), mergedBias);
        }
    }

    private NDArray initialized(Parameter parameter) {
        if (!parameter.isInitialized()) {
            throw new IllegalStateException(format("LoRA at %s: parameter %s is not initialized", site().name(), parameter.getName()));
        }
        return parameter.getArray();
    }

    private static NDArray float32(NDArray array, NDArray like) {
        return array.toDevice(like.getDevice(), false).toType(DataType.FLOAT32, false);
    }

    @Override
    public String toString() {
        return format("LoraModule(%s, r=%d, scaling=%s, dropout=%s, lora_bias=%s)", site().name(), rank, scaling, dropout, hasLoraBias());
    }
}
