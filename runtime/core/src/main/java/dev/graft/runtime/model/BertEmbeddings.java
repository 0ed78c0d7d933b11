package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.Dropouts;
import dev.graft.spi.EmbeddingSite;

/**
 * BERT's embeddings: the word embedding (the embedding site), then {@code LayerNorm(words + token_type + position)}
 * in Hugging Face's order of additions, then dropout ({@code hidden_dropout_prob}) in training.
 */
final class BertEmbeddings extends AbstractBlock {
    private static final byte VERSION = 1;

    final TokenEmbedding wordEmbeddings;
    final Parameter positionEmbeddings;
    final Parameter tokenTypeEmbeddings;
    final LayerNormalization layerNorm;
    private final float dropout;

    BertEmbeddings(BertConfig config) {
        super(VERSION);
        dropout = (float) config.hiddenDropout();
        wordEmbeddings = addChildBlock("word_embeddings", new TokenEmbedding(new EmbeddingSite("embeddings.word_embeddings", config.vocabularySize(), config.hiddenSize())));
        positionEmbeddings = addParameter(Parameter.builder().setName("position_embeddings").setType(Parameter.Type.WEIGHT).optRequiresGrad(false).build());
        tokenTypeEmbeddings = addParameter(Parameter.builder().setName("token_type_embeddings").setType(Parameter.Type.WEIGHT).optRequiresGrad(false).build());
        layerNorm = addChildBlock("LayerNorm", new LayerNormalization(config.layerNormEps()));
    }

    /**
     * {@code LayerNorm(words + token_type_embeddings(tokenTypes) + position_embeddings(positions))}.
     *
     * @param words the input embeddings {@code (batch, sequence, hidden)}, virtual tokens included
     * @param tokenTypes {@code (batch, sequence)} int64
     * @param positions {@code (batch or 1, sequence)} int64
     */
    NDArray forward(ParameterStore parameterStore, NDArray words, NDArray tokenTypes, NDArray positions, boolean training) {
        NDArray typeTable = parameterStore.getValue(tokenTypeEmbeddings, words.getDevice(), training);
        NDArray positionTable = parameterStore.getValue(positionEmbeddings, words.getDevice(), training);
        NDArray embeddings = words.add(TokenEmbedding.lookup(tokenTypes, typeTable));
        embeddings = embeddings.add(TokenEmbedding.lookup(positions, positionTable));
        return Dropouts.apply(layerNorm.forward(parameterStore, embeddings, training), dropout, training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("BertEmbeddings is driven by its model");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
