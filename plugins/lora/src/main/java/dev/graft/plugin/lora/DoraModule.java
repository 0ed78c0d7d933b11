package dev.graft.plugin.lora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import ai.djl.util.Pair;
import dev.graft.spi.Dropouts;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.LowRankLinearModule;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.Scalars;

/**
 * Weight-decomposed LoRA (DoRA, Liu et al. 2024) at one linear site, with Hugging Face PEFT's semantics
 * ({@code use_dora: true}; {@code tuners/lora/dora.py DoraLinearLayer}) and tensors: {@code lora_A.weight}
 * {@code (r, in)}, {@code lora_B.weight} {@code (out, r)} and the magnitude {@code lora_magnitude_vector}
 * {@code (out)}, saved under PEFT's key {@code base_model.model.<site>.lora_magnitude_vector}.
 *
 * <p>With {@code V = W + s·B·A} and its row norms {@code ‖V‖} (one per output feature, detached from the
 * gradient as PEFT and the paper's section 4.3 do), the site computes
 * {@code y = x·Wᵀ + b + x̃·ΔWᵀ} with {@code ΔW = (m/‖V‖)·V − W} and {@code x̃ = dropout(x)} while training
 * ({@code x} otherwise): PEFT's {@code (m/‖V‖ − 1)·(x̃·Wᵀ) + (m/‖V‖)·s·B·A·x̃} added to the base output. Without
 * dropout that is {@code x·((m/‖V‖)·V)ᵀ + b}. The magnitude starts at {@code ‖W + s·B·A‖}, which is {@code ‖W‖} with
 * the default zero {@code B}, so a fresh adapter leaves the output unchanged.
 *
 * <p>It is a {@link dev.graft.spi.WeightTransformModule}: under gated composition the gate scales {@code x̃·ΔWᵀ},
 * so an open gate gives DoRA and a shut one the base layer. Merging sets {@code W' = (m/‖V‖)·V} (the bias is
 * unchanged) and remembers {@code ‖V‖}; unmerging inverts it with that norm, {@code W = W'·‖V‖/m − s·B·A}, as PEFT
 * caches it.
 */
public final class DoraModule extends LinearModuleBlock.WeightTransform implements MergeableLinearModule {
    /** The parameter name (and checkpoint key suffix) of the magnitude {@code m}, {@code (out)}. */
    public static final String MAGNITUDE = "lora_magnitude_vector";

    private final int rank;
    private final float scaling;
    private final float dropout;
    private final Parameter loraA;
    private final Parameter loraB;
    private final Parameter magnitude;
    /** The row norms {@code ‖V‖} at the last merge, for the unmerge; null when not merged. */
    private float[] mergedNorm;

    private DoraModule(Builder builder) {
        super(builder.site);
        LinearSite site = builder.site;
        if (builder.rank <= 0) {
            throw new IllegalArgumentException(format("DoRA at %s: rank must be greater than 0, but is %d", site.name(), builder.rank));
        }
        if (!(builder.dropout >= 0 && builder.dropout < 1)) {
            throw new IllegalArgumentException(format("DoRA at %s: dropout must be in [0, 1), but is %s", site.name(), builder.dropout));
        }
        this.rank = builder.rank;
        this.scaling = builder.scaling;
        this.dropout = builder.dropout;
        Initializer up = builder.initialization == LoraInitialization.LINEAR_DEFAULT
                ? new UniformInitializer((float) (1 / Math.sqrt(rank)))
                : new ConstantInitializer(0);
        Initializer down = builder.initialization == LoraInitialization.GAUSSIAN
                ? new NormalInitializer(1f / rank)
                : new UniformInitializer((float) (1 / Math.sqrt(site.inFeatures())));
        this.loraA = addParameter(Parameter.builder()
                .setName(LowRankLinearModule.LORA_A_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank, site.inFeatures()))
                .optInitializer(down)
                .build());
        this.loraB = addParameter(Parameter.builder()
                .setName(LowRankLinearModule.LORA_B_WEIGHT)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(site.outFeatures(), rank))
                .optInitializer(up)
                .build());
        // ones until initializeFromBase sets ‖W + s·B·A‖
        this.magnitude = addParameter(Parameter.builder()
                .setName(MAGNITUDE)
                .setType(Parameter.Type.GAMMA)
                .optShape(new Shape(site.outFeatures()))
                .optInitializer(new ConstantInitializer(1))
                .build());
    }

    /** A builder for DoRA at {@code site}: {@code setRank} is required. */
    public static Builder builder(LinearSite site) {
        return new Builder(site);
    }

    /** The rank {@code r}. */
    public int rank() {
        return rank;
    }

    /** The scaling {@code s} of {@code B·A} ({@code α/r}, or {@code α/√r} with rsLoRA). */
    public float scaling() {
        return scaling;
    }

    /** The dropout probability on the input of the DoRA term while training. */
    public float dropout() {
        return dropout;
    }

    @Override
    protected String label() {
        return "DoRA";
    }

    /**
     * {@code ΔW = (m/‖V‖)·V − W} with {@code V = W + s·B·A} and {@code ‖V‖} its detached row norms, in float32,
     * shape {@code (out, in)}; gradients reach {@code m}, {@code A} and {@code B} through {@code V}.
     */
    @Override
    public NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(weight, "weight is null");
        checkWeightShape(weight.getShape(), "weight");
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray down = parameterStore.getValue(loraA, weight.getDevice(), training);
            NDArray up = parameterStore.getValue(loraB, weight.getDevice(), training);
            NDArray length = parameterStore.getValue(magnitude, weight.getDevice(), training);
            scope.tempAttachAll(weight, down, up, length);
            NDArray lowRank = Scalars.times(up.matMul(down), scaling);
            NDArray direction = weight.add(lowRank);
            NDArray norm = rowNorms(weight.add(lowRank.stopGradient())).stopGradient();
            NDArray factor = length.div(norm).reshape(site().outFeatures(), 1);
            return scope.ret(factor.mul(direction).sub(weight));
        }
    }

    /** {@code dropout(x)} while training with a probability above 0, else {@code x} itself (PEFT's DoRA input). */
    @Override
    public NDArray deltaInput(NDArray x, boolean training) {
        requireNonNull(x, "x is null");
        if (!training || dropout == 0) {
            return x;
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            scope.tempAttachAll(x);
            return scope.ret(Dropouts.apply(x, dropout, true));
        }
    }

    /** Sets {@code m = ‖W + s·B·A‖} per output row, PEFT's start ({@code ‖W‖} with the default zero {@code B}). */
    @Override
    public void initializeFromBase(LinearWeights base) {
        requireNonNull(base, "base is null");
        NDArray weight = base.weight();
        checkWeightShape(weight.getShape(), "base weight");
        checkInitialized();
        try (NDManager scope = weight.getManager().newSubManager()) {
            attachParameters(scope, weight);
            NDArray norm = rowNorms(weight.toType(DataType.FLOAT32, false).add(lowRankWeight()));
            ArrayValues.copy(magnitude.getArray(), norm);
        }
    }

    /** {@code W' = (m/‖V‖)·V} with {@code V = W + s·B·A}, computed in float32 and cast back; the bias is unchanged. */
    @Override
    public LinearWeights merge(LinearWeights base) {
        requireNonNull(base, "base is null");
        NDArray weight = base.weight();
        checkWeightShape(weight.getShape(), "weight");
        checkInitialized();
        try (NDManager scope = weight.getManager().newSubManager()) {
            attachParameters(scope, weight);
            NDArray combined = weight.toType(DataType.FLOAT32, false).add(lowRankWeight());
            NDArray norm = rowNorms(combined);
            float[] norms = norm.toFloatArray();
            NDArray factor = magnitude.getArray().toType(DataType.FLOAT32, false).div(norm).reshape(site().outFeatures(), 1);
            NDArray merged = scope.ret(factor.mul(combined).toType(weight.getDataType(), false));
            mergedNorm = norms;
            return new LinearWeights(merged, base.bias());
        }
    }

    /**
     * {@code W = W'·‖V‖/m − s·B·A} with the norms {@code ‖V‖} remembered at the merge (PEFT's cached
     * {@code weight_norm}): they cannot be recovered from {@code W'}, whose rows have norm {@code m}.
     *
     * @throws IllegalStateException if this module has not merged since it was made or last unmerged
     */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        requireNonNull(merged, "merged is null");
        NDArray weight = merged.weight();
        checkWeightShape(weight.getShape(), "weight");
        checkInitialized();
        if (mergedNorm == null) {
            throw new IllegalStateException(format("DoRA at %s: cannot unmerge an adapter this module did not merge: the unmerge needs the row norms "
                    + "‖W + s·B·A‖ recorded at the merge (PEFT caches them the same way); merge it first", site().name()));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            attachParameters(scope, weight);
            NDArray norm = scope.create(mergedNorm, new Shape(site().outFeatures(), 1)).toDevice(weight.getDevice(), false);
            NDArray factor = norm.div(magnitude.getArray().toType(DataType.FLOAT32, false).reshape(site().outFeatures(), 1));
            NDArray original = weight.toType(DataType.FLOAT32, false).mul(factor).sub(lowRankWeight());
            NDArray result = scope.ret(original.toType(weight.getDataType(), false));
            mergedNorm = null;
            return new LinearWeights(result, merged.bias());
        }
    }

    @Override
    public String toString() {
        return format("DoraModule(%s, r=%d, scaling=%s, dropout=%s)", site().name(), rank, scaling, dropout);
    }

    /** {@code s·B·A} in float32 from the parameters' own arrays (outside a forward pass). */
    private NDArray lowRankWeight() {
        NDArray down = loraA.getArray().toType(DataType.FLOAT32, false);
        NDArray up = loraB.getArray().toType(DataType.FLOAT32, false);
        return Scalars.times(up.matMul(down), scaling);
    }

    /** The L2 norm of each row of {@code matrix} {@code (out, in)}: shape {@code (out)}, PEFT's {@code linalg.norm(dim=1)}. */
    private static NDArray rowNorms(NDArray matrix) {
        return matrix.norm(new int[] {1});
    }

    private void attachParameters(NDManager scope, NDArray weight) {
        scope.tempAttachAll(weight);
        for (Pair<String, Parameter> parameter : getParameters()) {
            scope.tempAttachAll(parameter.getValue().getArray());
        }
    }

    private void checkInitialized() {
        for (Pair<String, Parameter> parameter : getParameters()) {
            if (!parameter.getValue().isInitialized()) {
                throw new IllegalStateException(format("DoRA at %s: parameter %s is not initialized", site().name(), parameter.getKey()));
            }
        }
    }

    private void checkWeightShape(Shape shape, String what) {
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!shape.equals(expected)) {
            throw new IllegalArgumentException(format("DoRA at %s: %s has shape %s, expected %s", site().name(), what, shape, expected));
        }
    }

    /** Builds a {@link DoraModule} in DJL's style: {@code setX} for what is required, {@code optX} for the rest. */
    public static final class Builder {
        private final LinearSite site;
        private int rank;
        private float scaling = 1;
        private float dropout;
        private LoraInitialization initialization = LoraInitialization.KAIMING_UNIFORM;

        private Builder(LinearSite site) {
            this.site = requireNonNull(site, "site is null");
        }

        /** The rank {@code r}, at least 1 (required). */
        public Builder setRank(int rank) {
            this.rank = rank;
            return this;
        }

        /** The scaling {@code s} of {@code B·A} (1 by default). */
        public Builder optScaling(float scaling) {
            this.scaling = scaling;
            return this;
        }

        /** The dropout probability on the DoRA term's input while training, in {@code [0, 1)} (0 by default). */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** How {@code A} and {@code B} start ({@code init_lora_weights}); Kaiming-uniform {@code A}, zero {@code B} by default. */
        public Builder optInitialization(LoraInitialization initialization) {
            this.initialization = requireNonNull(initialization, "initialization is null");
            return this;
        }

        /** The module. */
        public DoraModule build() {
            return new DoraModule(this);
        }
    }
}
