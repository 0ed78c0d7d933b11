package dev.graft.plugin.prefix;

import static dev.graft.spi.PromptLearningFields.NUM_ATTENTION_HEADS;
import static dev.graft.spi.PromptLearningFields.NUM_LAYERS;
import static dev.graft.spi.PromptLearningFields.NUM_TRANSFORMER_SUBMODULES;
import static dev.graft.spi.PromptLearningFields.TOKEN_DIM;
import static dev.graft.spi.PromptLearningFields.checkField;

import dev.graft.spi.Option;

/**
 * The options of one prefix-tuning adapter, declared once with PEFT's {@code PrefixTuningConfig} names and defaults
 * (the SPI checks types and ranges), and the model-size fields PEFT writes, checked against the model.
 *
 * @param numVirtualTokens {@code num_virtual_tokens}: the number n of virtual keys and values per layer
 * @param prefixProjection {@code prefix_projection}: train the prefix through an MLP encoder
 * @param encoderHiddenSize {@code encoder_hidden_size}: the MLP's hidden width, or {@code null} for PEFT's default
 *        (the token dimension)
 * @param initWeights {@code init_weights}: {@code "zero"} starts the prefix (or the MLP's last layer) at zero; null for
 *        PEFT's start
 * @param tokenDim {@code token_dim}, checked against the model when given
 * @param numLayers {@code num_layers}, checked against the model when given
 * @param numAttentionHeads {@code num_attention_heads}, checked against the model when given
 * @param numTransformerSubmodules {@code num_transformer_submodules}, 1 when given
 */
record PrefixConfiguration(
        @Option(name = "num_virtual_tokens", required = true, minimum = 1,
                description = "The number n of virtual keys and values prepended in every attention layer; greater than 0.")
        int numVirtualTokens,
        @Option(name = "prefix_projection", defaultValue = "false",
                description = "Train the prefix through Embedding(n, d) → Linear(d, h) → tanh → Linear(h, layers·2·d), d the key/value width; "
                        + "the checkpoint still holds only the flattened prefix.")
        boolean prefixProjection,
        @Option(name = "encoder_hidden_size", minimum = 1,
                description = "The hidden width h of the projection MLP; greater than 0. Default: the key/value width d, as PEFT (the hidden size without "
                        + "grouped-query attention).")
        Integer encoderHiddenSize,
        @Option(name = "init_weights", allowed = "zero",
                description = "Absent: the prefix embedding ~ N(0, 1) and the MLP as nn.Linear; \"zero\": the prefix (or the MLP's last layer) starts at zero.")
        String initWeights,
        @Option(name = TOKEN_DIM, description = "Written by PEFT: the width of each virtual token; checked against the model.")
        Integer tokenDim,
        @Option(name = NUM_LAYERS, description = "Written by PEFT: the model's layer count; checked against the model.")
        Integer numLayers,
        @Option(name = NUM_ATTENTION_HEADS, description = "Written by PEFT: the heads of the virtual tokens; checked against the model.")
        Integer numAttentionHeads,
        @Option(name = NUM_TRANSFORMER_SUBMODULES,
                description = "Written by PEFT: 1 for decoders and encoders (2 for encoder-decoders, which Graft does not run); checked.")
        Integer numTransformerSubmodules) {
    static final String METHOD_ID = "prefix";

    /** Whether {@code init_weights: "zero"} starts the prefix (or the MLP's last layer) at zero. */
    boolean zeroInit() {
        return initWeights != null;
    }

    /** The projection MLP's hidden width for a key/value width of {@code tokenDim}. */
    int encoderHiddenSize(int tokenDim) {
        return encoderHiddenSize == null ? tokenDim : encoderHiddenSize;
    }

    /**
     * Checks the model-size fields that are given against a model of {@code numLayers} layers whose key/value heads are
     * {@code keyValueHeads} heads of width {@code headDim}.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the field, the given and the expected value
     */
    void checkModel(int numLayers, int keyValueHeads, int headDim) {
        checkField(METHOD_ID, TOKEN_DIM, tokenDim, keyValueHeads * headDim);
        checkField(METHOD_ID, NUM_LAYERS, this.numLayers, numLayers);
        checkField(METHOD_ID, NUM_ATTENTION_HEADS, numAttentionHeads, keyValueHeads);
        checkField(METHOD_ID, NUM_TRANSFORMER_SUBMODULES, numTransformerSubmodules, 1);
    }
}
