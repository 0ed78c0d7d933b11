package dev.graft.plugin.plora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.LowRankLinearModule;
import dev.graft.spi.Scalars;

import java.util.List;

/**
 * PeriodicLoRA at one linear site: a LoRA pair with PEFT's tensors, {@code lora_A.weight} {@code (r, in)} and
 * {@code lora_B.weight} {@code (out, r)}, contributing {@code s·B(A(dropout(x)))} to the site's output, plus the
 * two operations of an offload: {@link #offloaded} folds a share of {@code s·B·A} into the base weights, and
 * {@link #keepShare} leaves the rest in the adapter.
 *
 * <p>The tensors, {@code delta} and the merge are the SPI's {@link LowRankLinearModule}, shared with LoRA, so the
 * default {@link dev.graft.spi.MethodModule#saveState} writes LoRA's keys; LoRA's default start ({@code A}
 * Kaiming-uniform, {@code B = 0}).
 */
public final class PloraModule extends LowRankLinearModule {
    private PloraModule(Builder builder) {
        super(builder);
    }

    /** A builder for PLoRA at {@code site}: {@code setRank} is required. */
    public static Builder builder(LinearSite site) {
        return new Builder(site);
    }

    @Override
    protected String label() {
        return "PLoRA";
    }

    /** The two trainable parameters, {@code A} then {@code B}. */
    public List<Parameter> trainableParameters() {
        return List.of(down(), up());
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
        requireNonNull(base, "base is null");
        NDArray weight = base.weight();
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("PLoRA at %s: weight has shape %s, expected %s", site().name(), weight.getShape(), expected));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, initialized(down()), initialized(up()));
            NDArray updated = weight.toType(DataType.FLOAT32, false).add(Scalars.times(deltaWeight(scope), share)).toType(weight.getDataType(), false);
            return new LinearWeights(scope.ret(updated), base.bias());
        }
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
        NDArray down = initialized(down());
        NDArray up = initialized(up());
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

    private NDArray initialized(Parameter parameter) {
        if (!parameter.isInitialized()) {
            throw new IllegalStateException(format("PLoRA at %s: parameter %s is not initialized", site().name(), parameter.getName()));
        }
        return parameter.getArray();
    }

    @Override
    public String toString() {
        return format("PloraModule(%s, r=%d, scaling=%s, dropout=%s)", site().name(), rank(), scaling(), dropout());
    }

    /** Builds a {@link PloraModule}; see {@link LowRankLinearModule.Builder}. */
    public static final class Builder extends LowRankLinearModule.Builder<Builder> {
        private Builder(LinearSite site) {
            super(site);
        }

        /** The module. */
        public PloraModule build() {
            return new PloraModule(this);
        }

        @Override
        protected Builder self() {
            return this;
        }
    }
}
