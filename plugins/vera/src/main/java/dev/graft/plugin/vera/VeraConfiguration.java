package dev.graft.plugin.vera;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

/**
 * VeRA's options, declared once with Hugging Face PEFT's {@code VeraConfig} field names and defaults (the SPI checks
 * types and ranges).
 *
 * @param rank {@code r}: the rank of the shared projections
 * @param projectionPrngKey {@code projection_prng_key}: the seed of the shared projections, drawn as PEFT draws them
 *        (torch's CPU generator, see {@code VeraProjections})
 * @param saveProjection {@code save_projection}: whether checkpoints hold the shared projections
 * @param dropout {@code vera_dropout}
 * @param initialScale {@code d_initial}: the initial value of every {@code vera_lambda_d} entry
 * @param fanInFanOut {@code fan_in_fan_out}: only false
 * @param bias {@code bias}: only {@code "none"}
 * @param initWeights {@code init_weights}: {@code vera_lambda_b = 0}, {@code vera_lambda_d = d_initial} when true;
 *        PEFT's untouched {@code vera_lambda_b = 1}, {@code vera_lambda_d ~ N(0, 1)} when false
 */
public record VeraConfiguration(
        @Option(name = "r", defaultValue = "256", minimum = 1,
                description = "rank of the shared random projections vera_A (r x max_in) and vera_B (max_out x r); at least 1")
        int rank,
        @Option(name = "projection_prng_key", defaultValue = "0", description = "seed of the shared random projections")
        int projectionPrngKey,
        @Option(name = "save_projection", defaultValue = "true",
                description = "save vera_A and vera_B in the adapter checkpoint; without them they are regenerated from projection_prng_key, as PEFT does")
        boolean saveProjection,
        @Option(name = "vera_dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "dropout probability on the adapter's input while training, in [0, 1)")
        double dropout,
        @Option(name = "d_initial", defaultValue = "0.1", description = "initial value of every entry of vera_lambda_d")
        double initialScale,
        @Option(name = "fan_in_fan_out", defaultValue = "false",
                description = "whether the target stores its weight as (in, out), like GPT-2's Conv1D; only false is supported")
        boolean fanInFanOut,
        @Option(name = "bias", defaultValue = "none", allowed = "none", description = "which biases to train; only \"none\" is supported")
        String bias,
        @Option(name = "init_weights", defaultValue = "true",
                description = "start as a no-op (vera_lambda_b = 0, vera_lambda_d = d_initial); false keeps lambda_b = 1, lambda_d ~ N(0, 1)")
        boolean initWeights) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "vera";

    /**
     * Checks what the schema cannot.
     *
     * @throws dev.graft.spi.InvalidOptionsException for a non-finite {@code d_initial} or {@code fan_in_fan_out: true}
     */
    public VeraConfiguration {
        requireNonNull(bias, "bias is null");
        if (!Double.isFinite(initialScale)) {
            throw invalidValue(METHOD_ID, "d_initial", initialScale, "a finite number");
        }
        if (fanInFanOut) {
            throw invalidValue(METHOD_ID, "fan_in_fan_out", true, "false: Graft's linear sites store their weight as (out, in)");
        }
    }
}
