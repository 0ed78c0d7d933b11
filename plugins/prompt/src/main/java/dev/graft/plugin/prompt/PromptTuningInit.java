package dev.graft.plugin.prompt;

import static java.util.Objects.requireNonNull;

import java.util.List;

/** How the virtual token embeddings start, by PEFT's {@code prompt_tuning_init} values. */
public enum PromptTuningInit {
    /** {@code RANDOM}: {@code N(0, 1)}, as a fresh {@code torch.nn.Embedding}. PEFT's default. */
    RANDOM,
    /** {@code TEXT}: the embeddings of {@code prompt_tuning_init_text}'s tokens, repeated or cut to n. */
    TEXT,
    /** {@code SAMPLE_VOCAB}: the embeddings of n token ids drawn uniformly from the vocabulary. */
    SAMPLE_VOCAB;

    /** The accepted option values. */
    static final List<Object> OPTION_VALUES = List.of("RANDOM", "TEXT", "SAMPLE_VOCAB");

    /**
     * The initialization named by a validated {@code prompt_tuning_init} value.
     *
     * @throws IllegalArgumentException for a name that is not one of {@link #OPTION_VALUES}
     */
    static PromptTuningInit fromOption(String value) {
        return valueOf(requireNonNull(value, "value is null"));
    }
}
