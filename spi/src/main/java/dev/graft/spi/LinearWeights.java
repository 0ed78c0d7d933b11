package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;

/**
 * The weight {@code (out, in)} and the optional bias {@code (out)} of a linear site.
 *
 * @param weight the weight
 * @param bias the bias, or {@code null} when the layer has none
 */
public record LinearWeights(NDArray weight, NDArray bias) {
    public LinearWeights {
        requireNonNull(weight, "weight is null");
    }

    /** Whether there is a bias. */
    public boolean hasBias() {
        return bias != null;
    }
}
