package dev.graft.runtime.model;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The shape of a Llama-family decoder, with Hugging Face's {@code config.json} field meanings.
 *
 * @param vocabularySize {@code vocab_size}
 * @param hiddenSize {@code hidden_size}
 * @param intermediateSize {@code intermediate_size}
 * @param numLayers {@code num_hidden_layers}
 * @param numAttentionHeads {@code num_attention_heads}
 * @param numKeyValueHeads {@code num_key_value_heads}
 * @param headDim {@code head_dim} (defaults to hidden / heads)
 * @param rmsNormEps {@code rms_norm_eps}
 * @param ropeTheta {@code rope_theta}
 * @param tieWordEmbeddings {@code tie_word_embeddings}
 * @param attentionBias {@code attention_bias}
 * @param mlpBias {@code mlp_bias}
 * @param ropeScaling {@code rope_scaling}
 * @param attentionDropout {@code attention_dropout}: dropout on the attention probabilities, in training only
 */
public record LlamaConfig(
        int vocabularySize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        RopeScaling ropeScaling,
        double attentionDropout) {
    public LlamaConfig {
        requireNonNull(ropeScaling, "ropeScaling is null");
        if (!(attentionDropout >= 0 && attentionDropout < 1)) {
            throw new IllegalArgumentException(format("attention_dropout must be in [0, 1), found %s", attentionDropout));
        }
        if (vocabularySize <= 0 || hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || numAttentionHeads <= 0 || numKeyValueHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException(format("Llama config sizes must be positive: %s", describe(vocabularySize, hiddenSize, intermediateSize, numLayers, numAttentionHeads, numKeyValueHeads, headDim)));
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException(format("num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)", numAttentionHeads, numKeyValueHeads));
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException(format("head_dim (%d) must be even for rotary embeddings", headDim));
        }
    }

    /** A config without attention dropout (Hugging Face's default). */
    public LlamaConfig(int vocabularySize, int hiddenSize, int intermediateSize, int numLayers, int numAttentionHeads, int numKeyValueHeads, int headDim,
            double rmsNormEps, double ropeTheta, boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias, RopeScaling ropeScaling) {
        this(vocabularySize, hiddenSize, intermediateSize, numLayers, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps, ropeTheta, tieWordEmbeddings,
                attentionBias, mlpBias, ropeScaling, 0);
    }

    /** A config without rope scaling or attention dropout. */
    public LlamaConfig(int vocabularySize, int hiddenSize, int intermediateSize, int numLayers, int numAttentionHeads, int numKeyValueHeads, int headDim,
            double rmsNormEps, double ropeTheta, boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias) {
        this(vocabularySize, hiddenSize, intermediateSize, numLayers, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps, ropeTheta, tieWordEmbeddings,
                attentionBias, mlpBias, RopeScaling.none());
    }

    /** A config equal to this one but with {@code scaling}. */
    public LlamaConfig withRopeScaling(RopeScaling scaling) {
        return new LlamaConfig(vocabularySize, hiddenSize, intermediateSize, numLayers, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps, ropeTheta,
                tieWordEmbeddings, attentionBias, mlpBias, scaling, attentionDropout);
    }

    /** A config equal to this one but with attention dropout {@code probability}. */
    public LlamaConfig withAttentionDropout(double probability) {
        return new LlamaConfig(vocabularySize, hiddenSize, intermediateSize, numLayers, numAttentionHeads, numKeyValueHeads, headDim, rmsNormEps, ropeTheta,
                tieWordEmbeddings, attentionBias, mlpBias, ropeScaling, probability);
    }

    /**
     * The test model of the issues: 2 layers, hidden 64, intermediate 128, 4 heads, 2 key/value heads,
     * vocabulary 128.
     */
    public static LlamaConfig tiny() {
        return new LlamaConfig(128, 64, 128, 2, 4, 2, 16, 1e-6, 10000.0, false, false, false);
    }

    private static String describe(int vocabularySize, int hiddenSize, int intermediateSize, int numLayers, int heads, int kvHeads, int headDim) {
        return format("vocab_size=%d hidden_size=%d intermediate_size=%d num_hidden_layers=%d num_attention_heads=%d num_key_value_heads=%d head_dim=%d",
                vocabularySize, hiddenSize, intermediateSize, numLayers, heads, kvHeads, headDim);
    }
}
