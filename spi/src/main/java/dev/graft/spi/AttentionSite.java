package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The key/value stream of one attention layer. With grouped-query attention, keys and values have
 * {@code numKeyValueHeads} heads of {@code headDim} each.
 *
 * @param name the Hugging Face module path of the attention, e.g. {@code model.layers.0.self_attn}
 * @param layerIndex the transformer layer
 * @param numHeads the number of query heads
 * @param numKeyValueHeads the number of key/value heads
 * @param headDim the width of one head
 */
public record AttentionSite(String name, int layerIndex, int numHeads, int numKeyValueHeads, int headDim) implements Site {
    public AttentionSite {
        requireNonNull(name, "name is null");
        if (numHeads <= 0 || numKeyValueHeads <= 0 || headDim <= 0 || numHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException(format(
                    "attention site %s has invalid heads: heads=%d kv heads=%d head dim=%d", name, numHeads, numKeyValueHeads, headDim));
        }
    }

    /** The width of the key (and value) stream: {@code numKeyValueHeads · headDim}. */
    public int keyValueWidth() {
        return numKeyValueHeads * headDim;
    }

    @Override
    public SiteKind kind() {
        return SiteKind.ATTENTION;
    }
}
