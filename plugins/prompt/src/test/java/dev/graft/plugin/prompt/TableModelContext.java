package dev.graft.plugin.prompt;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.graft.spi.ModelContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A hand-written {@link ModelContext} whose embedding of token id t is the row {@code [t, t + 0.5, t + 1, ...]} and
 * whose tokenizer, if any, maps whole words through a fixed table. It records every id it embeds.
 */
final class TableModelContext implements ModelContext {
    private final int hiddenSize;
    private final int vocabularySize;
    private final Map<String, Long> words;
    private final List<Long> embedded = new ArrayList<>();

    /**
     * @param words the tokenizer's table, or {@code null} for a model without a tokenizer
     */
    TableModelContext(int hiddenSize, int vocabularySize, Map<String, Long> words) {
        this.hiddenSize = hiddenSize;
        this.vocabularySize = vocabularySize;
        this.words = words == null ? null : Map.copyOf(words);
    }

    /** The embedding row of token id {@code token}. */
    static float[] row(long token, int hiddenSize) {
        float[] row = new float[hiddenSize];
        for (int unit = 0; unit < hiddenSize; unit++) {
            row[unit] = token + 0.5f * unit;
        }
        return row;
    }

    /** Every token id embedded so far, in order. */
    List<Long> embeddedTokens() {
        return Collections.unmodifiableList(embedded);
    }

    @Override
    public String modelType() {
        return "llama";
    }

    @Override
    public int numLayers() {
        return 2;
    }

    @Override
    public int hiddenSize() {
        return hiddenSize;
    }

    @Override
    public int numAttentionHeads() {
        return 1;
    }

    @Override
    public int numKeyValueHeads() {
        return 1;
    }

    @Override
    public int headDim() {
        return hiddenSize;
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    @Override
    public NDArray embedTokens(NDManager manager, long[] tokenIds) {
        float[] rows = new float[tokenIds.length * hiddenSize];
        for (int token = 0; token < tokenIds.length; token++) {
            embedded.add(tokenIds[token]);
            System.arraycopy(row(tokenIds[token], hiddenSize), 0, rows, token * hiddenSize, hiddenSize);
        }
        return manager.create(rows, new Shape(tokenIds.length, hiddenSize));
    }

    @Override
    public long[] tokenize(String text) {
        requireNonNull(text, "text is null");
        if (words == null) {
            throw new IllegalStateException("this model was loaded without a tokenizer");
        }
        return text.isBlank() ? new long[0] : Arrays.stream(text.trim().split("\\s+")).mapToLong(words::get).toArray();
    }
}
