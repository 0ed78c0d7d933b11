package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that prepends {@link #numVirtualTokens()} virtual token embeddings to the input embeddings
 * (prompt tuning). The runtime extends the attention mask with ones and exposes only real-token positions
 * in the outputs. Under gated composition the gate, reading the input embeddings, scales the virtual tokens
 * (the gate rule for every module type is in the {@linkplain dev.graft.spi package documentation}).
 */
public interface PromptModule extends MethodModule {
    /** The number of virtual tokens n. */
    int numVirtualTokens();

    /**
     * The virtual token embeddings, shape {@code (n, hidden)}.
     *
     * @param parameterStore where to read parameter values
     * @param like an array on the target device and manager
     * @param training whether training is on
     */
    NDArray virtualTokens(ParameterStore parameterStore, NDArray like, boolean training);
}
