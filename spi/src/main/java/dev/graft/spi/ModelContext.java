package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * What a method may know about the model it adapts. The runtime implements it.
 */
public interface ModelContext {
    /** The Hugging Face {@code model_type}, e.g. {@code llama} or {@code bert}. */
    String modelType();

    /** The number of transformer layers. */
    int numLayers();

    /** The model's hidden size. */
    int hiddenSize();

    /** The number of attention (query) heads. */
    int numAttentionHeads();

    /** The number of key/value heads (equal to {@link #numAttentionHeads()} without grouped-query attention). */
    int numKeyValueHeads();

    /** The width of one attention head. */
    int headDim();

    /** The vocabulary size. */
    int vocabularySize();

    /**
     * The base model's input embeddings of {@code tokenIds}, shape {@code (tokenIds.length, hiddenSize)},
     * attached to {@code manager}. Prompt tuning uses it for text initialisation.
     */
    NDArray embedTokens(NDManager manager, long[] tokenIds);

    /**
     * Tokenizes {@code text} with the model's tokenizer, without special tokens.
     *
     * @throws IllegalStateException if the model has no tokenizer
     */
    long[] tokenize(String text);
}
