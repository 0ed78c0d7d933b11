package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that prepends {@link #numVirtualTokens()} virtual keys and values to an attention layer (prefix
 * tuning). The runtime places them before the real keys (after rotary embedding of the real ones; the
 * prefix is not rotated, as in HF's key/value cache), extends the attention mask with ones, and shifts
 * real-token positions by n. Under gated composition the gate scales the virtual keys and values (the gate rule for every
 * module type is in the {@linkplain dev.graft.spi package documentation}).
 */
public interface PrefixModule extends MethodModule {
    /** The number of virtual tokens n. */
    int numVirtualTokens();

    /**
     * The virtual keys and values for this layer, batch-independent.
     *
     * @param parameterStore where to read parameter values
     * @param like an array on the target device and manager
     * @param training whether training is on
     */
    PrefixKeyValues keyValues(ParameterStore parameterStore, NDArray like, boolean training);
}
