package dev.graft.runtime.loader;

import static java.util.Objects.requireNonNull;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.graft.runtime.model.TransformerModel;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * A model with its tokenizer, if it has one. The model's weights belong to the manager it was loaded into;
 * {@link #close()} frees the tokenizer's native handle (after which the model's context cannot tokenize text).
 */
public final class LoadedModel implements AutoCloseable {
    private final TransformerModel model;
    private final HuggingFaceTokenizer tokenizer;
    private final byte[] tokenizerJson;
    private final OptionalLong endOfSequenceTokenId;

    /** @param tokenizer the tokenizer, or {@code null} when the model came without one */
    public LoadedModel(TransformerModel model, HuggingFaceTokenizer tokenizer) {
        this(model, tokenizer, null, OptionalLong.empty());
    }

    /**
     * @param tokenizer the tokenizer, or {@code null} when the model came without one
     * @param tokenizerJson the tokenizer's {@code tokenizer.json}, or {@code null}
     * @param endOfSequenceTokenId {@code eos_token_id} of the model's config, if it has one
     */
    public LoadedModel(TransformerModel model, HuggingFaceTokenizer tokenizer, byte[] tokenizerJson, OptionalLong endOfSequenceTokenId) {
        this.model = requireNonNull(model, "model is null");
        this.tokenizer = tokenizer;
        this.tokenizerJson = tokenizerJson == null ? null : tokenizerJson.clone();
        this.endOfSequenceTokenId = requireNonNull(endOfSequenceTokenId, "endOfSequenceTokenId is null");
    }

    public TransformerModel model() {
        return model;
    }

    public Optional<HuggingFaceTokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** The bytes of the model's {@code tokenizer.json}, from which tokenizers with other settings (truncation) are made. */
    public Optional<byte[]> tokenizerJson() {
        return Optional.ofNullable(tokenizerJson).map(byte[]::clone);
    }

    /** The id of the token that ends a sequence ({@code eos_token_id}), if the model's config names one. */
    public OptionalLong endOfSequenceTokenId() {
        return endOfSequenceTokenId;
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }
}
