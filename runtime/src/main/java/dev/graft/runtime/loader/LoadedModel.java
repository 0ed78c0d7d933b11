package dev.graft.runtime.loader;

import static java.util.Objects.requireNonNull;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.graft.runtime.model.TransformerModel;

import java.util.Optional;

/**
 * A model with its tokenizer, if it has one. The model's weights belong to the manager it was loaded into;
 * {@link #close()} frees the tokenizer's native handle (after which the model's context cannot tokenize text).
 */
public final class LoadedModel implements AutoCloseable {
    private final TransformerModel model;
    private final HuggingFaceTokenizer tokenizer;

    /** @param tokenizer the tokenizer, or {@code null} when the model came without one */
    public LoadedModel(TransformerModel model, HuggingFaceTokenizer tokenizer) {
        this.model = requireNonNull(model, "model is null");
        this.tokenizer = tokenizer;
    }

    public TransformerModel model() {
        return model;
    }

    public Optional<HuggingFaceTokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }
}
