package dev.graft.runtime.model;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.spi.EmbeddingSite;

/** A frozen token embedding table {@code (vocabulary, hidden)} that is also the embedding site. */
final class TokenEmbedding extends AbstractBlock {
    private static final byte VERSION = 1;

    final Parameter weight;
    final SiteAttachments site;

    TokenEmbedding(EmbeddingSite site) {
        super(VERSION);
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT).optRequiresGrad(false).build());
        this.site = new SiteAttachments(site);
    }

    /** Looks up {@code tokenIds} {@code (batch, sequence)}; the result lives in the ids' manager. */
    NDArray forward(ParameterStore parameterStore, NDArray tokenIds, boolean training) {
        NDArray table = parameterStore.getValue(weight, tokenIds.getDevice(), training);
        requireInVocabulary(tokenIds, table.getShape().get(0));
        return lookup(tokenIds, table);
    }

    /**
     * Checks every id against the vocabulary before the lookup, so an id the model has no row for is named with its
     * position, instead of PyTorch's "index out of range in self".
     *
     * @throws IllegalArgumentException naming the first id outside {@code [0, vocabularySize)}, its (row, column) and the size
     */
    static void requireInVocabulary(NDArray tokenIds, long vocabularySize) {
        try (NDManager scope = tokenIds.getManager().newSubManager()) {
            scope.tempAttachAll(tokenIds);
            NDArray ids = tokenIds;
            boolean outside = ids.lt(0).logicalOr(ids.gte(vocabularySize)).any().getBoolean();
            if (!outside) {
                return;
            }
            long[] flat = ids.toType(DataType.INT64, false).toLongArray();
            long columns = ids.getShape().dimension() == 0 ? 1 : ids.getShape().get(ids.getShape().dimension() - 1);
            for (int index = 0; index < flat.length; index++) {
                if (flat[index] < 0 || flat[index] >= vocabularySize) {
                    throw new IllegalArgumentException(format(
                            "token id %d at position (row %d, column %d) of input_ids is outside the model's vocabulary of %d tokens (ids 0 to %d); "
                                    + "the ids were made with another tokenizer or for another model",
                            flat[index], index / columns, index % columns, vocabularySize, vocabularySize - 1));
                }
            }
        }
    }

    static NDArray lookup(NDArray tokenIds, NDArray table) {
        return tokenIds.getNDArrayInternal().embedding(tokenIds, table, SparseFormat.DENSE).singletonOrThrow();
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(weight.getShape().get(1))};
    }
}
