package dev.graft.spi;

import ai.djl.ndarray.NDArray;

/**
 * A linear-site module whose update is a scaled low-rank product {@code ΔW = s·B·A} (LoRA and its relatives).
 * Implementing it lets the runtime combine adapters the way PEFT's {@code add_weighted_adapter} does
 * ({@code linear}, {@code cat}, {@code svd}) without knowing the method.
 */
public interface LowRankModule extends MethodModule {
    /** The current factor {@code A}, shape {@code (r, in)}; the module's own array, do not close it. */
    NDArray factorA();

    /** The current factor {@code B}, shape {@code (out, r)}; the module's own array, do not close it. */
    NDArray factorB();

    /** The scaling {@code s} of the product. */
    float scaling();

    /**
     * Copies new values into the factors.
     *
     * @throws IllegalArgumentException if the shapes are not this module's {@code (r, in)} and {@code (out, r)}
     */
    void setFactors(NDArray a, NDArray b);
}
