package dev.graft.plugin.prompt;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import dev.graft.spi.ModelContext;

import java.util.Arrays;

/**
 * Starts the virtual tokens as rows of the base model's embedding table: given token ids (TEXT) or ids drawn uniformly
 * from the vocabulary with the engine's random generator when the parameter is initialised (SAMPLE_VOCAB). The copy is
 * the parameter's own: training it leaves the base embeddings alone.
 */
final class EmbeddingRowsInitializer implements Initializer {
    private final ModelContext model;
    private final long[] tokenIds;

    private EmbeddingRowsInitializer(ModelContext model, long[] tokenIds) {
        this.model = requireNonNull(model, "model is null");
        this.tokenIds = tokenIds == null ? null : tokenIds.clone();
    }

    /** The embeddings of {@code tokenIds}, one row per virtual token. */
    static EmbeddingRowsInitializer ofTokens(ModelContext model, long[] tokenIds) {
        return new EmbeddingRowsInitializer(model, requireNonNull(tokenIds, "tokenIds is null"));
    }

    /** The embeddings of token ids drawn uniformly from {@code [0, vocabulary)} at initialization. */
    static EmbeddingRowsInitializer sampledFromVocabulary(ModelContext model) {
        return new EmbeddingRowsInitializer(model, null);
    }

    /**
     * PEFT's TEXT rule: the text's token ids cut to the first {@code count}, or repeated whole as often as needed and
     * then cut to {@code count}.
     *
     * @throws IllegalArgumentException if there are no text tokens or {@code count} is not positive
     */
    static long[] repeatOrCut(long[] textTokenIds, int count) {
        requireNonNull(textTokenIds, "textTokenIds is null");
        if (textTokenIds.length == 0 || count <= 0) {
            throw new IllegalArgumentException(format("need at least one text token and a positive count, got %d tokens for %d", textTokenIds.length, count));
        }
        long[] ids = new long[count];
        for (int index = 0; index < count; index++) {
            ids[index] = textTokenIds[index % textTokenIds.length];
        }
        return ids;
    }

    @Override
    public NDArray initialize(NDManager manager, Shape shape, DataType dataType) {
        requireNonNull(manager, "manager is null");
        requireNonNull(shape, "shape is null");
        Shape expected = new Shape(shape.get(0), model.hiddenSize());
        if (shape.dimension() != 2 || !shape.equals(expected)) {
            throw new IllegalArgumentException(format("prompt embeddings must have shape (n, %d), but the parameter has shape %s", model.hiddenSize(), shape));
        }
        long[] ids = tokenIds == null ? sample(manager, shape.get(0)) : tokenIds;
        if (ids.length != shape.get(0)) {
            throw new IllegalArgumentException(format("%d token ids for %d virtual tokens", ids.length, shape.get(0)));
        }
        NDArray embedded = model.embedTokens(manager, ids);
        if (!embedded.getShape().equals(shape)) {
            String found = embedded.getShape().toString();
            embedded.close();
            throw new IllegalStateException(format("the model embedded %d token ids %s as shape %s, expected %s", ids.length, Arrays.toString(ids), found, shape));
        }
        NDArray rows = embedded.toType(dataType, true);
        embedded.close();
        return rows;
    }

    private long[] sample(NDManager manager, long count) {
        try (NDArray drawn = manager.randomInteger(0, model.vocabularySize(), new Shape(count), DataType.INT64)) {
            return drawn.toLongArray();
        }
    }
}
