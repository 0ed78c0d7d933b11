package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.site.SiteAttachments;
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
        return lookup(tokenIds, table);
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
