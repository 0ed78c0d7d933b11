package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that adds a term to a sublayer's output before the residual add:
 * {@code h' = h + scaling()·delta(x_in, h)}, like serial ({@code f(h)}) and parallel ({@code f(x_in)})
 * bottleneck adapters. Under gated composition the runtime's gate replaces {@link #scaling()}
 * (the gate rule for every module type is in the {@linkplain dev.graft.spi package documentation}).
 */
public interface SublayerModule extends MethodModule {
    /**
     * The unscaled additive term, shape {@code (batch, sequence, hidden)}.
     *
     * @param parameterStore where to read parameter values
     * @param sublayerInput {@code x_in}, the (normalised) input of the sublayer
     * @param sublayerOutput {@code h}, the sublayer's output
     * @param training whether dropout and the like are on
     */
    NDArray delta(ParameterStore parameterStore, NDArray sublayerInput, NDArray sublayerOutput, boolean training);

    /** The factor applied to {@link #delta} in plain (ungated) composition. */
    float scaling();
}
