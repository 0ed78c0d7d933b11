package dev.graft.plugin.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.spi.ModelContext;

/** A hand-written {@link ModelContext} with fixed sizes and no weights or tokenizer. */
record FixedModelContext(
        String modelType,
        int numLayers,
        int hiddenSize,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int vocabularySize) implements ModelContext {
    /** The 2-layer llama: hidden 64, 4 heads of 16, 2 key/value heads. */
    static FixedModelContext smallLlama() {
        return new FixedModelContext("llama", 2, 64, 4, 2, 16, 128);
    }

    @Override
    public NDArray embedTokens(NDManager manager, long[] tokenIds) {
        throw new UnsupportedOperationException("this test model has no embeddings");
    }

    @Override
    public long[] tokenize(String text) {
        throw new IllegalStateException("this test model has no tokenizer");
    }
}
