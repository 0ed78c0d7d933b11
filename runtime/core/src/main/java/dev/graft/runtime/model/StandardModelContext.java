package dev.graft.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.spi.ModelContext;

import java.util.function.Function;

/** The {@link ModelContext} of a runtime model: its sizes, its embedding table and, if known, its tokenizer. */
final class StandardModelContext implements ModelContext {
    private final String modelType;
    private final int numLayers;
    private final int hiddenSize;
    private final int numAttentionHeads;
    private final int numKeyValueHeads;
    private final int headDim;
    private final int vocabularySize;
    private final Parameter embeddingTable;
    private final Function<String, long[]> tokenizer;

    StandardModelContext(String modelType, int numLayers, int hiddenSize, int numAttentionHeads, int numKeyValueHeads, int headDim, int vocabularySize,
            Parameter embeddingTable, Function<String, long[]> tokenizer) {
        this.modelType = requireNonNull(modelType, "modelType is null");
        this.numLayers = numLayers;
        this.hiddenSize = hiddenSize;
        this.numAttentionHeads = numAttentionHeads;
        this.numKeyValueHeads = numKeyValueHeads;
        this.headDim = headDim;
        this.vocabularySize = vocabularySize;
        this.embeddingTable = requireNonNull(embeddingTable, "embeddingTable is null");
        this.tokenizer = tokenizer;
    }

    @Override
    public String modelType() {
        return modelType;
    }

    @Override
    public int numLayers() {
        return numLayers;
    }

    @Override
    public int hiddenSize() {
        return hiddenSize;
    }

    @Override
    public int numAttentionHeads() {
        return numAttentionHeads;
    }

    @Override
    public int numKeyValueHeads() {
        return numKeyValueHeads;
    }

    @Override
    public int headDim() {
        return headDim;
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public NDArray embedTokens(NDManager manager, long[] tokenIds) {
        NDArray ids = manager.create(tokenIds);
        NDArray embedded = TokenEmbedding.lookup(ids, embeddingTable.getArray());
        ids.close();
        return embedded;
    }

    @Override
    public long[] tokenize(String text) {
        if (tokenizer == null) {
            throw new IllegalStateException("this model was loaded without a tokenizer (no tokenizer.json): give token ids instead of text");
        }
        return tokenizer.apply(text);
    }
}
