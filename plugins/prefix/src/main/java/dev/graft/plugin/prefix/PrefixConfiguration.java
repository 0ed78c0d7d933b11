package dev.graft.plugin.prefix;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.OptionType;
import dev.graft.spi.PromptLearningFields;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The options of one prefix-tuning adapter, named and defaulted as in PEFT's {@code PrefixTuningConfig}, checked for
 * range.
 *
 * @param numVirtualTokens {@code num_virtual_tokens}: the number n of virtual keys and values per layer
 * @param prefixProjection {@code prefix_projection}: train the prefix through an MLP encoder
 * @param encoderHiddenSize {@code encoder_hidden_size}: the MLP's hidden width, or {@code null} for PEFT's default
 *        (the token dimension)
 * @param zeroInit {@code init_weights: "zero"}: start the prefix (or the MLP's last layer) at zero
 */
record PrefixConfiguration(int numVirtualTokens, boolean prefixProjection, Integer encoderHiddenSize, boolean zeroInit) {
    static final String METHOD_ID = "prefix";
    static final String NUM_VIRTUAL_TOKENS = "num_virtual_tokens";
    static final String PREFIX_PROJECTION = "prefix_projection";
    static final String ENCODER_HIDDEN_SIZE = "encoder_hidden_size";
    static final String INIT_WEIGHTS = "init_weights";

    private static final String ZERO = "zero";

    /** Prefix tuning's options with PEFT's names and defaults. */
    static final OptionSchema SCHEMA = OptionSchema.of(Stream.concat(Stream.of(
            OptionSpec.requiredInteger(NUM_VIRTUAL_TOKENS, "The number n of virtual keys and values prepended in every attention layer; greater than 0."),
            OptionSpec.bool(PREFIX_PROJECTION, false,
                    "Train the prefix through Embedding(n, d) → Linear(d, h) → tanh → Linear(h, layers·2·d), d the key/value width; "
                            + "the checkpoint still holds only the flattened prefix."),
            new OptionSpec(ENCODER_HIDDEN_SIZE, OptionType.INTEGER, null, false, List.of(),
                    "The hidden width h of the projection MLP; greater than 0. Default: the key/value width d, as PEFT (the hidden size without "
                            + "grouped-query attention)."),
            new OptionSpec(INIT_WEIGHTS, OptionType.CHOICE, null, false, List.of(ZERO),
                    "Absent: the prefix embedding ~ N(0, 1) and the MLP as nn.Linear; \"zero\": the prefix (or the MLP's last layer) starts at zero.")),
            PromptLearningFields.options().stream()).collect(Collectors.toList()));

    PrefixConfiguration {
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException(format("num_virtual_tokens must be greater than 0, but is %d", numVirtualTokens));
        }
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new IllegalArgumentException(format("encoder_hidden_size must be greater than 0, but is %d", encoderHiddenSize));
        }
    }

    /**
     * Reads and checks options that {@link #SCHEMA} has validated.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed
     */
    static PrefixConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        int numVirtualTokens = options.getInt(NUM_VIRTUAL_TOKENS);
        if (numVirtualTokens <= 0) {
            throw invalid(NUM_VIRTUAL_TOKENS, numVirtualTokens, "a whole number greater than 0");
        }
        Integer encoderHiddenSize = options.has(ENCODER_HIDDEN_SIZE) ? options.getInt(ENCODER_HIDDEN_SIZE) : null;
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw invalid(ENCODER_HIDDEN_SIZE, encoderHiddenSize, "a whole number greater than 0");
        }
        return new PrefixConfiguration(numVirtualTokens, options.getBoolean(PREFIX_PROJECTION), encoderHiddenSize, options.has(INIT_WEIGHTS));
    }

    /** The projection MLP's hidden width for a key/value width of {@code tokenDim}. */
    int encoderHiddenSize(int tokenDim) {
        return encoderHiddenSize == null ? tokenDim : encoderHiddenSize;
    }

    private static InvalidOptionsException invalid(String option, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s. Fix the value.", METHOD_ID, option, value, allowed));
    }
}
