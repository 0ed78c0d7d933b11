package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * A frozen linear layer {@code y = x·Wᵀ + b} with {@code W} of shape {@code (outFeatures, inFeatures)}.
 *
 * @param name the Hugging Face module path, e.g. {@code model.layers.0.self_attn.q_proj}
 * @param layerIndex the transformer layer, or -1
 * @param inFeatures the input width
 * @param outFeatures the output width
 * @param hasBias whether the layer has a bias
 */
public record LinearSite(String name, int layerIndex, int inFeatures, int outFeatures, boolean hasBias) implements Site {
    public LinearSite {
        requireNonNull(name, "name is null");
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException(format("linear site %s has non-positive features: in=%d out=%d", name, inFeatures, outFeatures));
        }
    }

    @Override
    public SiteKind kind() {
        return SiteKind.LINEAR;
    }
}
