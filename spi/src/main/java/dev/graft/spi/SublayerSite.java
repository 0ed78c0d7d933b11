package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The output {@code h} of an attention or feed-forward sublayer, before the residual add.
 *
 * @param name the Hugging Face module path of the sublayer, e.g. {@code model.layers.0.mlp}
 * @param layerIndex the transformer layer
 * @param sublayer attention or feed-forward
 * @param hiddenSize the width of the sublayer's input and output
 */
public record SublayerSite(String name, int layerIndex, SublayerKind sublayer, int hiddenSize) implements Site {
    public SublayerSite {
        requireNonNull(name, "name is null");
        requireNonNull(sublayer, "sublayer is null");
        if (hiddenSize <= 0) {
            throw new IllegalArgumentException(format("sublayer site %s has non-positive hidden size %d", name, hiddenSize));
        }
    }

    @Override
    public SiteKind kind() {
        return SiteKind.SUBLAYER;
    }
}
