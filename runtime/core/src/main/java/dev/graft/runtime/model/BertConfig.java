package dev.graft.runtime.model;

import static java.lang.String.format;

/**
 * The shape of a BERT-family encoder, with Hugging Face's {@code config.json} field meanings (absolute position
 * embeddings, exact GELU).
 *
 * @param vocabularySize {@code vocab_size}
 * @param hiddenSize {@code hidden_size}
 * @param numLayers {@code num_hidden_layers}
 * @param numAttentionHeads {@code num_attention_heads}
 * @param intermediateSize {@code intermediate_size}
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param typeVocabularySize {@code type_vocab_size}
 * @param layerNormEps {@code layer_norm_eps}
 * @param addPoolingLayer whether the model has a pooler ({@code BertModel(config, add_pooling_layer)})
 * @param hiddenDropout {@code hidden_dropout_prob}: dropout on the embeddings' output and on each dense output before
 *     its residual add, in training only
 * @param attentionDropout {@code attention_probs_dropout_prob}: dropout on the attention probabilities, in training only
 */
public record BertConfig(
        int vocabularySize,
        int hiddenSize,
        int numLayers,
        int numAttentionHeads,
        int intermediateSize,
        int maxPositionEmbeddings,
        int typeVocabularySize,
        double layerNormEps,
        boolean addPoolingLayer,
        double hiddenDropout,
        double attentionDropout) {
    /** Hugging Face's {@code BertConfig} default of both dropout probabilities. */
    public static final double DEFAULT_DROPOUT = 0.1;

    public BertConfig {
        if (vocabularySize <= 0 || hiddenSize <= 0 || numLayers <= 0 || numAttentionHeads <= 0 || intermediateSize <= 0 || maxPositionEmbeddings <= 0
                || typeVocabularySize <= 0) {
            throw new IllegalArgumentException(format(
                    "BERT config sizes must be positive: vocab_size=%d hidden_size=%d num_hidden_layers=%d num_attention_heads=%d intermediate_size=%d "
                            + "max_position_embeddings=%d type_vocab_size=%d",
                    vocabularySize, hiddenSize, numLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings, typeVocabularySize));
        }
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException(format("hidden_size (%d) must be a multiple of num_attention_heads (%d)", hiddenSize, numAttentionHeads));
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException(format("layer_norm_eps must be positive, found %s", layerNormEps));
        }
        if (!(hiddenDropout >= 0 && hiddenDropout < 1) || !(attentionDropout >= 0 && attentionDropout < 1)) {
            throw new IllegalArgumentException(format("hidden_dropout_prob (%s) and attention_probs_dropout_prob (%s) must be in [0, 1)", hiddenDropout, attentionDropout));
        }
    }

    /** A config without dropout (as in inference, or a model trained without it). */
    public BertConfig(int vocabularySize, int hiddenSize, int numLayers, int numAttentionHeads, int intermediateSize, int maxPositionEmbeddings,
            int typeVocabularySize, double layerNormEps, boolean addPoolingLayer) {
        this(vocabularySize, hiddenSize, numLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings, typeVocabularySize, layerNormEps, addPoolingLayer, 0, 0);
    }

    /** The width of one attention head: {@code hidden_size / num_attention_heads}. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** A config equal to this one but with or without the pooler. */
    public BertConfig withPoolingLayer(boolean pooling) {
        return new BertConfig(vocabularySize, hiddenSize, numLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings, typeVocabularySize,
                layerNormEps, pooling, hiddenDropout, attentionDropout);
    }

    /** A config equal to this one but with the given dropout probabilities. */
    public BertConfig withDropout(double hidden, double attention) {
        return new BertConfig(vocabularySize, hiddenSize, numLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings, typeVocabularySize,
                layerNormEps, addPoolingLayer, hidden, attention);
    }

    /**
     * The test model: 2 layers, hidden 32, 4 heads, intermediate 64, vocabulary 100, 40 positions, 2 token types,
     * with a pooler.
     */
    public static BertConfig tiny() {
        return new BertConfig(100, 32, 2, 4, 64, 40, 2, 1e-12, true);
    }
}
