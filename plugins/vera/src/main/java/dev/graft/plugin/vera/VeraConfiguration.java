package dev.graft.plugin.vera;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;

import java.util.List;

/**
 * VeRA's validated options, with Hugging Face PEFT's {@code VeraConfig} field names and defaults.
 *
 * @param rank {@code r}: the rank of the shared projections
 * @param projectionPrngKey {@code projection_prng_key}: the seed of the shared projections
 * @param saveProjection {@code save_projection}: whether checkpoints hold the shared projections
 * @param dropout {@code vera_dropout}
 * @param initialScale {@code d_initial}: the initial value of every {@code vera_lambda_d} entry
 * @param initWeights {@code init_weights}: {@code vera_lambda_b = 0}, {@code vera_lambda_d = d_initial} when true;
 *        PEFT's untouched {@code vera_lambda_b = 1}, {@code vera_lambda_d ~ N(0, 1)} when false
 */
public record VeraConfiguration(int rank, int projectionPrngKey, boolean saveProjection, double dropout, double initialScale, boolean initWeights) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "vera";

    /** The option schema, with PEFT's defaults. */
    public static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.integer("r", 256, "rank of the shared random projections vera_A (r x max_in) and vera_B (max_out x r); at least 1"),
            OptionSpec.integer("projection_prng_key", 0, "seed of the shared random projections"),
            OptionSpec.bool("save_projection", true, "save vera_A and vera_B in the adapter checkpoint (needed to load it in Python PEFT)"),
            OptionSpec.number("vera_dropout", 0.0, "dropout probability on the adapter's input while training, in [0, 1)"),
            OptionSpec.number("d_initial", 0.1, "initial value of every entry of vera_lambda_d"),
            OptionSpec.bool("fan_in_fan_out", false, "whether the target stores its weight as (in, out), like GPT-2's Conv1D; only false is supported"),
            OptionSpec.choice("bias", "none", List.of("none"), "which biases to train; only \"none\" is supported"),
            OptionSpec.bool("init_weights", true, "start as a no-op (vera_lambda_b = 0, vera_lambda_d = d_initial); false keeps lambda_b = 1, lambda_d ~ N(0, 1)"));

    public VeraConfiguration {
        if (rank <= 0) {
            throw invalid("r", rank, "a whole number of at least 1");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid("vera_dropout", dropout, "a number in [0, 1)");
        }
        if (!Double.isFinite(initialScale)) {
            throw invalid("d_initial", initialScale, "a finite number");
        }
    }

    /**
     * Reads validated options.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed, for a value out of
     *         range or {@code fan_in_fan_out: true}
     */
    public static VeraConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        if (options.getBoolean("fan_in_fan_out")) {
            throw invalid("fan_in_fan_out", true, "false: Graft's linear sites store their weight as (out, in)");
        }
        return new VeraConfiguration(
                options.getInt("r"),
                options.getInt("projection_prng_key"),
                options.getBoolean("save_projection"),
                options.getDouble("vera_dropout"),
                options.getDouble("d_initial"),
                options.getBoolean("init_weights"));
    }

    private static InvalidOptionsException invalid(String key, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s.", METHOD_ID, key, value, allowed));
    }
}
