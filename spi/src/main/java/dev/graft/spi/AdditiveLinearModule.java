package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that adds a term to a linear site's output: {@code y = x·Wᵀ + b + scaling()·delta(x)}.
 * Under gated composition the runtime's gate replaces {@link #scaling()} (UniPELT: the gate takes the place
 * of LoRA's α/r); see the {@linkplain dev.graft.spi package documentation} for the gate rule of every module type.
 */
public interface AdditiveLinearModule extends MethodModule {
    /**
     * The unscaled additive term for input {@code x} of shape {@code (..., in)}; returns {@code (..., out)}.
     * Temporaries should live in a sub-manager; only the result is returned.
     *
     * @param parameterStore where to read parameter values ({@code getValue(parameter, device, training)})
     * @param x the site's input
     * @param training whether dropout and the like are on
     */
    NDArray delta(ParameterStore parameterStore, NDArray x, boolean training);

    /** The factor applied to {@link #delta} in plain (ungated) composition, e.g. {@code α/r}. */
    float scaling();
}
