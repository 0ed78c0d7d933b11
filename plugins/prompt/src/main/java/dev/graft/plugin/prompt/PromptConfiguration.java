package dev.graft.plugin.prompt;

import static dev.graft.spi.InvalidOptionsException.wrongTogether;
import static dev.graft.spi.PromptLearningFields.NUM_ATTENTION_HEADS;
import static dev.graft.spi.PromptLearningFields.NUM_LAYERS;
import static dev.graft.spi.PromptLearningFields.NUM_TRANSFORMER_SUBMODULES;
import static dev.graft.spi.PromptLearningFields.TOKEN_DIM;
import static dev.graft.spi.PromptLearningFields.checkField;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

/**
 * The options of one prompt-tuning adapter, declared once with PEFT's {@code PromptTuningConfig} names and defaults
 * (the SPI checks types and ranges), and the model-size fields PEFT writes, checked against the model.
 *
 * @param numVirtualTokens {@code num_virtual_tokens}: the number n of virtual tokens
 * @param promptTuningInit {@code prompt_tuning_init}; see {@link #init()}
 * @param initText {@code prompt_tuning_init_text}, or {@code null}; required for {@link PromptTuningInit#TEXT}
 * @param tokenizerNameOrPath {@code tokenizer_name_or_path}: accepted and ignored
 * @param tokenDim {@code token_dim}, checked against the model when given
 * @param numLayers {@code num_layers}, checked against the model when given
 * @param numAttentionHeads {@code num_attention_heads}, checked against the model when given
 * @param numTransformerSubmodules {@code num_transformer_submodules}, 1 when given
 */
record PromptConfiguration(
        @Option(name = NUM_VIRTUAL_TOKENS, required = true, minimum = 1,
                description = "The number n of virtual tokens prepended to every input; greater than 0.")
        int numVirtualTokens,
        @Option(name = PROMPT_TUNING_INIT, defaultValue = "RANDOM", allowed = {"RANDOM", "TEXT", "SAMPLE_VOCAB"},
                description = "RANDOM: N(0, 1); TEXT: the embeddings of prompt_tuning_init_text's tokens, repeated or cut to n; SAMPLE_VOCAB: the embeddings "
                        + "of n random vocabulary tokens.")
        String promptTuningInit,
        @Option(name = PROMPT_TUNING_INIT_TEXT, description = "The text whose token embeddings start the prompt; required with TEXT, ignored otherwise.")
        String initText,
        @Option(name = TOKENIZER_NAME_OR_PATH,
                description = "Accepted for PEFT compatibility and ignored: TEXT tokenizes with the model's own tokenizer (without special tokens).")
        String tokenizerNameOrPath,
        @Option(name = TOKEN_DIM, description = "Written by PEFT: the width of each virtual token; checked against the model.")
        Integer tokenDim,
        @Option(name = NUM_LAYERS, description = "Written by PEFT: the model's layer count; checked against the model.")
        Integer numLayers,
        @Option(name = NUM_ATTENTION_HEADS, description = "Written by PEFT: the heads of the virtual tokens; checked against the model.")
        Integer numAttentionHeads,
        @Option(name = NUM_TRANSFORMER_SUBMODULES,
                description = "Written by PEFT: 1 for decoders and encoders (2 for encoder-decoders, which Graft does not run); checked.")
        Integer numTransformerSubmodules) {
    static final String METHOD_ID = "prompt";
    static final String NUM_VIRTUAL_TOKENS = "num_virtual_tokens";
    static final String PROMPT_TUNING_INIT = "prompt_tuning_init";
    static final String PROMPT_TUNING_INIT_TEXT = "prompt_tuning_init_text";
    static final String TOKENIZER_NAME_OR_PATH = "tokenizer_name_or_path";

    /**
     * Checks what the schema cannot.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code TEXT} without a non-blank text
     */
    PromptConfiguration {
        requireNonNull(promptTuningInit, "promptTuningInit is null");
        if (PromptTuningInit.fromOption(promptTuningInit) == PromptTuningInit.TEXT && (initText == null || initText.isBlank())) {
            throw wrongTogether(METHOD_ID, "option '%s' is TEXT, which needs a non-empty '%s'. Add the text, or use RANDOM or SAMPLE_VOCAB.",
                    PROMPT_TUNING_INIT, PROMPT_TUNING_INIT_TEXT);
        }
    }

    /** The initialization {@code prompt_tuning_init} names. */
    PromptTuningInit init() {
        return PromptTuningInit.fromOption(promptTuningInit);
    }

    /**
     * Checks the model-size fields that are given against a model of {@code hiddenSize}, {@code numLayers} layers and
     * {@code numAttentionHeads} heads.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the field, the given and the expected value
     */
    void checkModel(int hiddenSize, int numLayers, int numAttentionHeads) {
        checkField(METHOD_ID, TOKEN_DIM, tokenDim, hiddenSize);
        checkField(METHOD_ID, NUM_LAYERS, this.numLayers, numLayers);
        checkField(METHOD_ID, NUM_ATTENTION_HEADS, this.numAttentionHeads, numAttentionHeads);
        checkField(METHOD_ID, NUM_TRANSFORMER_SUBMODULES, numTransformerSubmodules, 1);
    }
}
