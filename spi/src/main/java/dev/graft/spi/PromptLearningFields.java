package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * The model-size fields PEFT writes into every prompt-learning {@code adapter_config.json}
 * ({@code token_dim}, {@code num_layers}, {@code num_attention_heads}, {@code num_transformer_submodules}). A
 * prompt-learning method declares them, as four {@code Integer} components of its options record with {@link Option}
 * (or with {@link #options()} in a hand-made schema), and checks them with {@link #checkField} (or {@link #check}), so
 * an adapter made for another model is refused instead of loading with the wrong shape by coincidence.
 */
public final class PromptLearningFields {
    public static final String TOKEN_DIM = "token_dim";
    public static final String NUM_LAYERS = "num_layers";
    public static final String NUM_ATTENTION_HEADS = "num_attention_heads";
    public static final String NUM_TRANSFORMER_SUBMODULES = "num_transformer_submodules";

    private PromptLearningFields() {}

    /** The four fields as optional whole-number options (absent unless given), to add to a method's schema. */
    public static List<OptionSpec> options() {
        return List.of(
                new OptionSpec(TOKEN_DIM, OptionType.INTEGER, null, false, List.of(), "Written by PEFT: the width of each virtual token; checked against the model."),
                new OptionSpec(NUM_LAYERS, OptionType.INTEGER, null, false, List.of(), "Written by PEFT: the model's layer count; checked against the model."),
                new OptionSpec(NUM_ATTENTION_HEADS, OptionType.INTEGER, null, false, List.of(), "Written by PEFT: the heads of the virtual tokens; checked against the model."),
                new OptionSpec(NUM_TRANSFORMER_SUBMODULES, OptionType.INTEGER, null, false, List.of(),
                        "Written by PEFT: 1 for decoders and encoders (2 for encoder-decoders, which Graft does not run); checked."));
    }

    /**
     * Checks each field that is present against what this model needs.
     *
     * @throws InvalidOptionsException naming the method, the field, the given and the expected value
     */
    public static void check(String methodId, MethodOptions options, int tokenDim, int numLayers, int numAttentionHeads) {
        requireNonNull(methodId, "methodId is null");
        requireNonNull(options, "options is null");
        checkField(methodId, options, TOKEN_DIM, tokenDim);
        checkField(methodId, options, NUM_LAYERS, numLayers);
        checkField(methodId, options, NUM_ATTENTION_HEADS, numAttentionHeads);
        checkField(methodId, options, NUM_TRANSFORMER_SUBMODULES, 1);
    }

    private static void checkField(String methodId, MethodOptions options, String field, int expected) {
        checkField(methodId, field, options.has(field) ? options.getInt(field) : null, expected);
    }

    /**
     * Checks one field, when given, against what this model needs.
     *
     * @param methodId the method's id
     * @param field the field's key, e.g. {@link #TOKEN_DIM}
     * @param given the field's value, or null when absent
     * @param expected what this model needs
     * @throws InvalidOptionsException naming the method, the field, the given and the expected value
     */
    public static void checkField(String methodId, String field, Integer given, int expected) {
        requireNonNull(methodId, "methodId is null");
        requireNonNull(field, "field is null");
        if (given != null && given != expected) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is %d, but this model needs %d: the adapter was made for another model (see its base_model_name_or_path).",
                    methodId, field, given, expected));
        }
    }
}
