package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;

/**
 * Virtual keys and values for one attention layer, each of shape {@code (numKeyValueHeads, n, headDim)}.
 *
 * @param keys the virtual keys
 * @param values the virtual values
 */
public record PrefixKeyValues(NDArray keys, NDArray values) {
    public PrefixKeyValues {
        requireNonNull(keys, "keys is null");
        requireNonNull(values, "values is null");
    }
}
