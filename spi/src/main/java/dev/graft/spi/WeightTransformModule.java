package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that transforms the frozen weight itself: the site computes {@code x·(W + ΔW(W))ᵀ + b}, like
 * Bone's BAT variant ({@code ΔW_ij = W_ij·B_i + B_i}) or LoRA's DoRA ({@code ΔW = (m/‖W + s·B·A‖)·(W + s·B·A) − W}).
 * Under gated composition the runtime uses {@code g·ΔW} (the gate rule for every module type is in the
 * {@linkplain dev.graft.spi package documentation}).
 *
 * <p>Two optional hooks: {@link #deltaInput} lets the delta multiply another input than the base weight (DoRA's
 * dropout, after PEFT), and {@link #initializeFromBase} lets a parameter start from the base weight (DoRA's
 * magnitude).
 */
public interface WeightTransformModule extends MethodModule {
    /**
     * The weight delta {@code ΔW}, shape {@code (out, in)}, as a function of the frozen weight.
     *
     * @param parameterStore where to read parameter values
     * @param weight the site's current (frozen) weight {@code (out, in)}
     * @param training whether training is on
     */
    NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training);

    /**
     * The input {@code x̃} that {@code ΔW} multiplies: the site computes {@code x·Wᵀ + b + x̃·ΔWᵀ}. By default
     * {@code x} itself (return the very array given), which is {@code x·(W + ΔW)ᵀ + b}. A module with input dropout
     * returns {@code dropout(x)} while training, as PEFT's DoRA does; the base term keeps the undropped {@code x}.
     * {@code x} is in the site's data type (float16 on a half-precision base); make temporaries in a sub-manager of
     * {@code x}'s manager and return only the result.
     *
     * @param x the site's input (after any input scaling)
     * @param training whether training is on
     */
    default NDArray deltaInput(NDArray x, boolean training) {
        return x;
    }

    /**
     * Called once when the module is attached, after the runtime has initialised its parameters with their
     * initializers and before any forward pass or checkpoint load: {@code base} holds float32 copies of the site's
     * current weight and bias, freed by the runtime after the call. DoRA sets its magnitude {@code m = ‖W + s·B·A‖}
     * per output row here; copy values into parameters with {@link ArrayValues#copy}. Does nothing by default.
     *
     * @param base float32 copies of the site's weight {@code (out, in)} and bias
     */
    default void initializeFromBase(LinearWeights base) {}
}
