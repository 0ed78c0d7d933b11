package dev.graft.plugin.prompt;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PromptLearningFields;

import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The options of one prompt-tuning adapter, named and defaulted as in PEFT's {@code PromptTuningConfig}, checked for
 * range and consistency.
 *
 * @param numVirtualTokens {@code num_virtual_tokens}: the number n of virtual tokens
 * @param init {@code prompt_tuning_init}
 * @param initText {@code prompt_tuning_init_text}, or {@code null}; required for {@link PromptTuningInit#TEXT}
 */
record PromptConfiguration(int numVirtualTokens, PromptTuningInit init, String initText) {
    static final String METHOD_ID = "prompt";
    static final String NUM_VIRTUAL_TOKENS = "num_virtual_tokens";
    static final String PROMPT_TUNING_INIT = "prompt_tuning_init";
    static final String PROMPT_TUNING_INIT_TEXT = "prompt_tuning_init_text";
    static final String TOKENIZER_NAME_OR_PATH = "tokenizer_name_or_path";

    /** Prompt tuning's options with PEFT's names and defaults. */
    static final OptionSchema SCHEMA = OptionSchema.of(Stream.concat(Stream.of(
            OptionSpec.requiredInteger(NUM_VIRTUAL_TOKENS, "The number n of virtual tokens prepended to every input; greater than 0."),
            OptionSpec.choice(PROMPT_TUNING_INIT, "RANDOM", PromptTuningInit.OPTION_VALUES,
                    "RANDOM: N(0, 1); TEXT: the embeddings of prompt_tuning_init_text's tokens, repeated or cut to n; SAMPLE_VOCAB: the embeddings "
                            + "of n random vocabulary tokens."),
            OptionSpec.string(PROMPT_TUNING_INIT_TEXT, null, "The text whose token embeddings start the prompt; required with TEXT, ignored otherwise."),
            OptionSpec.string(TOKENIZER_NAME_OR_PATH, null,
                    "Accepted for PEFT compatibility and ignored: TEXT tokenizes with the model's own tokenizer (without special tokens).")),
            PromptLearningFields.options().stream()).collect(Collectors.toList()));

    PromptConfiguration {
        requireNonNull(init, "init is null");
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException(format("num_virtual_tokens must be greater than 0, but is %d", numVirtualTokens));
        }
    }

    /**
     * Reads and checks options that {@link #SCHEMA} has validated.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed
     */
    static PromptConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        int numVirtualTokens = options.getInt(NUM_VIRTUAL_TOKENS);
        if (numVirtualTokens <= 0) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is %d, but must be a whole number greater than 0. Fix the value.", METHOD_ID, NUM_VIRTUAL_TOKENS, numVirtualTokens));
        }
        PromptTuningInit init = PromptTuningInit.fromOption(options.getString(PROMPT_TUNING_INIT));
        String initText = options.has(PROMPT_TUNING_INIT_TEXT) ? options.getString(PROMPT_TUNING_INIT_TEXT) : null;
        if (init == PromptTuningInit.TEXT && (initText == null || initText.isBlank())) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is TEXT, which needs a non-empty '%s'. Add the text, or use RANDOM or SAMPLE_VOCAB.",
                    METHOD_ID, PROMPT_TUNING_INIT, PROMPT_TUNING_INIT_TEXT));
        }
        return new PromptConfiguration(numVirtualTokens, init, initText);
    }
}
