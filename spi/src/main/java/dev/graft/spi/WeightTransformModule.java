package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that transforms the frozen weight itself: the site computes {@code x·(W + ΔW(W))ᵀ + b}, like
 * Bone's BAT variant ({@code ΔW_ij = W_ij·B_i + B_i}). Under gated composition the runtime uses {@code g·ΔW}
 * (the gate rule for every module type is in the {@linkplain dev.graft.spi package documentation}).
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
}
