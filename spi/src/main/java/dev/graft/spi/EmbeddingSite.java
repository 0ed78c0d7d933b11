package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The input embeddings of the sequence, e.g. {@code model.embed_tokens}.
 *
 * @param name the Hugging Face module path of the embedding
 * @param vocabularySize the number of token ids
 * @param hiddenSize the embedding width
 */
public record EmbeddingSite(String name, int vocabularySize, int hiddenSize) implements Site {
    public EmbeddingSite {
        requireNonNull(name, "name is null");
        if (vocabularySize <= 0 || hiddenSize <= 0) {
            throw new IllegalArgumentException(format("embedding site %s has invalid sizes: vocabulary=%d hidden=%d", name, vocabularySize, hiddenSize));
        }
    }

    @Override
    public int layerIndex() {
        return -1;
    }

    @Override
    public SiteKind kind() {
        return SiteKind.EMBEDDING;
    }
}
