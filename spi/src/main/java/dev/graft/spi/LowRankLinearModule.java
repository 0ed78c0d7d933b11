package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.UniformInitializer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The common low-rank module of LoRA and its relatives, with PEFT's tensors: {@code lora_A.weight} {@code (r, in)},
 * {@code lora_B.weight} {@code (out, r)} and, optionally, {@code lora_B.bias} {@code (out)}. The site computes
 * {@code y = x·Wᵀ + b + s·B(A(dropout(x)))}; {@link #delta} is the unscaled {@code B(A(dropout(x)))}, and the merge
 * folds {@code ΔW = s·B·A} (and {@code Δb = s·lora_B.bias}) into the base weights. A method extends it with its own
 * builder (extending {@link Builder}) and whatever else it needs (PeriodicLoRA's offload).
 *
 * <p><b>Initial factors.</b> A module whose start is derived from the base weight ({@link BaseDerivedLinearModule},
 * PiSSA and OLoRA) records its starting factors with {@link #setInitialFactors}; from then on it contributes
 * {@code s·(B(A(dropout(x))) − B₀(A₀(x)))} and merges {@code s·(B·A − B₀·A₀)}, which is PEFT's adapter on PEFT's
 * residual base {@code W − s·B₀·A₀}. {@code B₀} and {@code A₀} are frozen arrays, not parameters: never trained,
 * never saved by {@link #saveState}.
 */
public abstract class LowRankLinearModule extends LinearModuleBlock.MergeableAdditive implements LowRankModule {
    /** The parameter name (and checkpoint key suffix) of the down projection {@code A}, {@code (r, in)}. */
    public static final String LORA_A_WEIGHT = "lora_A.weight";
    /** The parameter name (and checkpoint key suffix) of the up projection {@code B}, {@code (out, r)}. */
    public static final String LORA_B_WEIGHT = "lora_B.weight";
    /** The parameter name (and checkpoint key suffix) of {@code B}'s optional bias, {@code (out)}. */
    public static final String LORA_B_BIAS = "lora_B.bias";

    private final int rank;
    private final float scaling;
    private final float dropout;
    private final Parameter loraA;
    private final Parameter loraB;
    private final Parameter loraBBias;
    private NDArray initialDown;
    private NDArray initialUp;

    /**
     * Registers the parameters as {@code builder} describes them.
     *
     * @throws IllegalArgumentException for a rank below 1 or a dropout outside {@code [0, 1)}
     */
    protected LowRankLinearModule(Builder<?> builder) {
        super(requireNonNull(builder, "builder is null").site);
        LinearSite site = builder.site;
        if (builder.rank <= 0) {
            throw new IllegalArgumentException(format("%s at %s: rank must be greater than 0, but is %d", label(), site.name(), builder.rank));
        }
        if (!(builder.dropout >= 0 && builder.dropout < 1)) {
            throw new IllegalArgumentException(format("%s at %s: dropout must be in [0, 1), but is %s", label(), site.name(), builder.dropout));
        }
        this.rank = builder.rank;
        this.scaling = builder.scaling;
        this.dropout = builder.dropout;
        Initializer downInitializer = builder.downInitializer != null
                ? builder.downInitializer
                : new UniformInitializer((float) (1 / Math.sqrt(site.inFeatures())));
        Initializer upInitializer = builder.upInitializer != null ? builder.upInitializer : new ConstantInitializer(0);
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
        this.loraBBias = builder.upBias
                ? addParameter(Parameter.builder()
                        .setName(LORA_B_BIAS)
                        .setType(Parameter.Type.BIAS)
                        .optShape(new Shape(site.outFeatures()))
                        .optInitializer(upInitializer)
                        .build())
                : null;
    }

    /** The rank {@code r}. */
    public final int rank() {
        return rank;
    }

    /** The dropout probability on the input while training. */
    public final float dropout() {
        return dropout;
    }

    /** Whether {@code lora_B} has a bias. */
    public final boolean hasUpBias() {
        return loraBBias != null;
    }

    /** Whether {@link #setInitialFactors} recorded starting factors that {@link #delta} and the merge subtract. */
    public final boolean hasInitialFactors() {
        return initialDown != null;
    }

    /**
     * Records the starting factors {@code A₀ (r, in)} and {@code B₀ (out, r)}, copied in float32 onto the manager of
     * {@code A}'s array (so call it after the runtime initialised the parameters); see the class comment.
     *
     * @throws IllegalArgumentException if the shapes are not {@code (r, in)} and {@code (out, r)}
     */
    protected final void setInitialFactors(NDArray down, NDArray up) {
        requireNonNull(down, "down is null");
        requireNonNull(up, "up is null");
        NDArray target = loraA.getArray();
        Shape upShape = new Shape(site().outFeatures(), rank);
        if (!down.getShape().equals(target.getShape()) || !up.getShape().equals(upShape)) {
            throw new IllegalArgumentException(format("%s at %s: initial factors must have shapes %s and %s, got %s and %s",
                    label(), site().name(), target.getShape(), upShape, down.getShape(), up.getShape()));
        }
        NDManager manager = target.getManager();
        NDArray downCopy = manager.zeros(down.getShape(), DataType.FLOAT32, target.getDevice());
        NDArray upCopy = manager.zeros(upShape, DataType.FLOAT32, target.getDevice());
        ArrayValues.copy(downCopy, down);
        ArrayValues.copy(upCopy, up);
        if (initialDown != null) {
            initialDown.close();
            initialUp.close();
        }
        initialDown = downCopy;
        initialUp = upCopy;
    }

    /**
     * PEFT's conversion to a plain adapter of rank {@code 2r} ({@code subtract_mutated_init}): {@code lora_A.weight}
     * {@code [A; A₀]} {@code (2r, in)} and {@code lora_B.weight} {@code [B, −B₀]} {@code (out, 2r)}, new arrays in
     * {@code manager}; with the same scaling, {@code s·B'·A' = s·(B·A − B₀·A₀)}. Without initial factors, the module's
     * own {@code A} and {@code B} (and bias).
     */
    protected final Map<String, NDArray> convertedFactors(NDManager manager) {
        requireNonNull(manager, "manager is null");
        if (initialDown == null) {
            return CheckpointSupport.parameterValues(CheckpointSupport.parametersByName(this));
        }
        try (NDManager scope = manager.newSubManager()) {
            scope.tempAttachAll(loraA.getArray(), loraB.getArray(), initialDown, initialUp);
            NDArray down = NDArrays.concat(new NDList(loraA.getArray(), initialDown), 0);
            NDArray up = NDArrays.concat(new NDList(loraB.getArray(), initialUp.neg()), 1);
            Map<String, NDArray> converted = new LinkedHashMap<>();
            converted.put(LORA_A_WEIGHT, scope.ret(down));
            converted.put(LORA_B_WEIGHT, scope.ret(up));
            return converted;
        }
    }

    /** {@code A}, the parameter. */
    protected final Parameter down() {
        return loraA;
    }

    /** {@code B}, the parameter. */
    protected final Parameter up() {
        return loraB;
    }

    /** The scaling {@code s} (for LoRA {@code α/r} or {@code α/√r}). */
    @Override
    public final float scaling() {
        return scaling;
    }

    @Override
    public final NDArray factorA() {
        return loraA.getArray();
    }

    @Override
    public final NDArray factorB() {
        return loraB.getArray();
    }

    @Override
    public final void setFactors(NDArray a, NDArray b) {
        copyInto(loraA, a);
        copyInto(loraB, b);
    }

    private void copyInto(Parameter parameter, NDArray source) {
        NDArray target = parameter.getArray();
        if (!target.getShape().equals(source.getShape())) {
            throw new IllegalArgumentException(format("%s at %s: %s must have shape %s, got %s", label(), site().name(), parameter.getName(), target.getShape(), source.getShape()));
        }
        ArrayValues.copy(target, source);
    }

    /**
     * {@code B(A(dropout(x)))}, unscaled: {@code dropout(x)·Aᵀ·Bᵀ} (plus {@code lora_B.bias}), shape {@code (..., out)}.
     * Dropout applies only when training with a probability above 0. Temporaries live in a sub-manager of {@code x}'s
     * manager; the result is attached to {@code x}'s manager.
     */
    @Override
    public final NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        return lowRank(parameterStore, x, training, 1f, null, null);
    }

    /**
     * {@code factor · B(A(dropout(x)))}, with the factor applied to the rank-{@code r} hidden state {@code A(dropout(x))}
     * rather than to the {@code (..., out)} result: one multiplication over {@code r} columns instead of {@code out}, in
     * the forward pass and in the backward. With {@code lora_B.bias} the factor scales the result, as the default does.
     */
    @Override
    public final NDArray scaledDelta(ParameterStore parameterStore, NDArray x, boolean training, float factor) {
        return lowRank(parameterStore, x, training, factor, null, null);
    }

    /**
     * {@code output + B·(factor·A·dropout(x))} in one matrix call for the up-projection: the rank-{@code r} hidden
     * state and {@code output} are flattened to two dimensions and {@code B} multiplies into {@code output}
     * (PyTorch's {@code addmm} with {@code output} as the added matrix), so no {@code (..., out)} term is made and
     * added apart. With {@code lora_B.bias} or a PiSSA-style moved base part, the default's addition.
     */
    @Override
    public final NDArray addScaledDelta(ParameterStore parameterStore, NDArray x, boolean training, float factor, NDArray output) {
        requireNonNull(output, "output is null");
        if (loraBBias == null && initialDown == null) {
            // the fused product flattens the output to (rows, out): it must be the input's rows
            checkInput(x);
            long out = site().outFeatures();
            if (output.getShape().dimension() == 0 || output.getShape().getLastDimension() != out || output.getShape().size() / out != x.getShape().size() / site().inFeatures()) {
                throw new IllegalArgumentException(format("%s at %s: output has shape %s for an input of shape %s, but must be (..., out=%d) with the input's leading axes",
                        label(), site().name(), output.getShape(), x.getShape(), out));
            }
        }
        return lowRank(parameterStore, x, training, factor, null, output);
    }

    /**
     * {@code B(A(dropout(x)) ⊙ gate)}, the gate applied to the rank-{@code r} hidden state rather than to the
     * {@code (..., out)} result (equal, since {@code B} is linear and the gate is one value per example). With
     * {@code lora_B.bias} the gate multiplies the result, as the default does.
     */
    @Override
    public final NDArray gatedDelta(ParameterStore parameterStore, NDArray x, boolean training, NDArray gate) {
        requireNonNull(gate, "gate is null");
        return lowRank(parameterStore, x, training, 1f, gate, null);
    }

    /** The low-rank term, scaled or gated, added to {@code output} when it is given (in one {@code addmm} on the plain path). */
    private NDArray lowRank(ParameterStore parameterStore, NDArray x, boolean training, float factor, NDArray gate, NDArray output) {
        requireNonNull(parameterStore, "parameterStore is null");
        checkInput(x);
        try (NDManager scope = x.getManager().newSubManager()) {
            scope.tempAttachAll(x);
            if (output != null) {
                scope.tempAttachAll(output);
            }
            NDArray down = parameterStore.getValue(loraA, x.getDevice(), training);
            NDArray up = parameterStore.getValue(loraB, x.getDevice(), training);
            NDArray input = Dropouts.apply(x, dropout, training);
            NDArray hidden = Linear.linear(input, down).singletonOrThrow();
            NDArray result;
            if (loraBBias == null && initialDown == null) {
                NDArray scaled = factor == 1f ? hidden : Scalars.times(hidden, factor);
                NDArray gated = gate == null ? scaled : scaled.mul(gate);
                if (output == null) {
                    result = Linear.linear(gated, up).singletonOrThrow();
                }
                else {
                    long rows = output.getShape().size() / site().outFeatures();
                    result = Linear.linear(gated.reshape(rows, rank), up, output.reshape(rows, site().outFeatures())).singletonOrThrow().reshape(output.getShape());
                }
            }
            else {
                result = loraBBias == null
                        ? Linear.linear(hidden, up).singletonOrThrow()
                        : Linear.linear(hidden, up, parameterStore.getValue(loraBBias, x.getDevice(), training)).singletonOrThrow();
                if (initialDown != null) {
                    // the part of the base PEFT moves into the adapter at the start, without dropout: zero at the start, bit for bit
                    result = result.sub(Linear.linear(Linear.linear(x, initialDown).singletonOrThrow(), initialUp).singletonOrThrow());
                }
                result = factor == 1f ? result : Scalars.times(result, factor);
                result = gate == null ? result : result.mul(gate);
                result = output == null ? result : output.add(result);
            }
            return scope.ret(result);
        }
    }

    private void checkInput(NDArray x) {
        requireNonNull(x, "x is null");
        if (x.getShape().dimension() == 0 || x.getShape().getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "%s at %s: input has shape %s, but its last dimension must be in=%d", label(), site().name(), x.getShape(), site().inFeatures()));
        }
    }

    /** {@code s·B·A} in float32, scaling applied. */
    @Override
    protected final NDArray deltaWeight(NDManager scope) {
        NDArray down = float32(loraA.getArray(), scope);
        NDArray up = float32(loraB.getArray(), scope);
        NDArray product = up.matMul(down);
        if (initialDown != null) {
            scope.tempAttachAll(initialDown, initialUp);
            product = product.sub(initialUp.matMul(initialDown));
        }
        return Scalars.times(product, scaling);
    }

    /** {@code s·lora_B.bias} in float32, or null without it. */
    @Override
    protected final NDArray deltaBias(NDManager scope) {
        return loraBBias == null ? null : Scalars.times(float32(loraBBias.getArray(), scope), scaling);
    }

    private static NDArray float32(NDArray array, NDManager scope) {
        return array.toDevice(scope.getDevice(), false).toType(DataType.FLOAT32, false);
    }

    /**
     * Builds a low-rank module in DJL's style: {@code setX} for what is required, {@code optX} for what has a default.
     *
     * @param <B> the concrete builder
     */
    public abstract static class Builder<B extends Builder<B>> {
        private final LinearSite site;
        private int rank;
        private float scaling = 1;
        private float dropout;
        private Initializer downInitializer;
        private Initializer upInitializer;
        private boolean upBias;

        /** A builder for a module at {@code site}. */
        protected Builder(LinearSite site) {
            this.site = requireNonNull(site, "site is null");
        }

        /** The site. */
        protected final LinearSite site() {
            return site;
        }

        /** The rank {@code r}, at least 1 (required). */
        public final B setRank(int rank) {
            this.rank = rank;
            return self();
        }

        /** The rank set so far. */
        protected final int rank() {
            return rank;
        }

        /** The scaling {@code s} of the product (1 by default). */
        public final B optScaling(float scaling) {
            this.scaling = scaling;
            return self();
        }

        /** The dropout probability on the input while training, in {@code [0, 1)} (0 by default). */
        public final B optDropout(float dropout) {
            this.dropout = dropout;
            return self();
        }

        /**
         * The initializers of {@code A} and {@code B} (and {@code B}'s bias); by default PEFT's LoRA start,
         * {@code A ~ U(±1/√in)} (Kaiming-uniform with {@code a = √5}) and {@code B = 0}, a no-op.
         */
        public final B optInitializers(Initializer down, Initializer up) {
            this.downInitializer = requireNonNull(down, "down is null");
            this.upInitializer = requireNonNull(up, "up is null");
            return self();
        }

        /** Whether {@code B} has a bias (false by default). */
        public final B optUpBias(boolean upBias) {
            this.upBias = upBias;
            return self();
        }

        /** {@code this}. */
        protected abstract B self();
    }
}
