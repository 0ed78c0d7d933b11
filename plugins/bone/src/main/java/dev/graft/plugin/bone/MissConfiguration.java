package dev.graft.plugin.bone;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

/**
 * MiSS's options, declared once with Hugging Face PEFT's {@code MissConfig} field names and defaults (PEFT v0.19
 * on; the SPI checks types and ranges). As in PEFT, {@code mini_r} matters only with {@code init_weights: "mini"} and
 * {@code miss_dropout} is not used by {@code "bat"} (which transforms the weight, so there is no adapter input to
 * drop); both are accepted with any variant, so every folder PEFT writes loads.
 *
 * @param rank {@code r}: the block size along the input features
 * @param dropout {@code miss_dropout}: dropout on MiSS's input while training
 * @param miniRank {@code mini_r}: the width of {@code miss_block} along the output features with {@code "mini"}
 * @param initWeights {@code init_weights}: {@code true}, {@code false}, {@code "bat"} or {@code "mini"}; see {@link #variant()}
 * @param bias {@code bias}: only {@code "none"}
 */
public record MissConfiguration(
        @Option(name = "r", defaultValue = "64", minimum = 1,
                description = "block size r along the input features: miss_block is r x out (default), out/r x r x r (\"bat\") or r x mini_r (\"mini\"); at least 1")
        int rank,
        @Option(name = "miss_dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "dropout probability on MiSS's input while training, in [0, 1); not used by \"bat\", as in PEFT")
        double dropout,
        @Option(name = "mini_r", defaultValue = "1", minimum = 1,
                description = "with init_weights \"mini\": width of miss_block along the output features, repeated out/mini_r times; must divide every target's out")
        int miniRank,
        @Option(name = "init_weights", defaultValue = "true", allowed = {"true", "false", "bat", "mini"},
                description = "true: MiSS starting at zero (a no-op); false: MiSS with a Kaiming-uniform start; \"bat\": block affine, needs in and out divisible by r; "
                        + "\"mini\": an r x mini_r block shared along the output features")
        Object initWeights,
        @Option(name = "bias", defaultValue = "none", allowed = "none", description = "which biases to train; only \"none\" is supported")
        String bias) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "miss";

    /** Checks the references. */
    public MissConfiguration {
        requireNonNull(initWeights, "initWeights is null");
        requireNonNull(bias, "bias is null");
    }

    /** The variant {@code init_weights} selects. */
    public MissVariant variant() {
        return MissVariant.fromOption(initWeights);
    }
}
