package dev.graft.plugin.bone;

import static dev.graft.spi.InvalidOptionsException.wrongTogether;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

/**
 * Bone's options, declared once with Hugging Face PEFT's {@code BoneConfig} field names and defaults (PEFT v0.14 to
 * v0.18; PEFT removed Bone in favour of MiSS after that; the SPI checks types and ranges). {@code bone_dropout} is
 * Graft's addition, after MiSS's {@code miss_dropout}: PEFT's Bone has no dropout.
 *
 * @param rank {@code r}: the block size
 * @param initWeights {@code init_weights}: {@code true}, {@code false} or {@code "bat"}; see {@link #variant()}
 * @param dropout {@code bone_dropout}: dropout on Bone's input while training
 * @param bias {@code bias}: only {@code "none"}
 */
public record BoneConfiguration(
        @Option(name = "r", defaultValue = "64", minimum = 1,
                description = "block size r: bone_block is r x out (Bone) or out/r x r x r (Bat); at least 1")
        int rank,
        @Option(name = "init_weights", defaultValue = "true", allowed = {"true", "false", "bat"},
                description = "true: Bone starting at zero (a no-op); false: Bone with a Kaiming-uniform start; \"bat\": block affine Bat, needs in and out divisible by r")
        Object initWeights,
        @Option(name = "bone_dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "dropout probability on Bone's input while training, in [0, 1); 0 with \"bat\" (not in PEFT's Bone)")
        double dropout,
        @Option(name = "bias", defaultValue = "none", allowed = "none", description = "which biases to train; only \"none\" is supported")
        String bias) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "bone";

    /**
     * Checks what the schema cannot.
     *
     * @throws dev.graft.spi.InvalidOptionsException for a non-zero {@code bone_dropout} with {@code init_weights: "bat"}
     */
    public BoneConfiguration {
        requireNonNull(initWeights, "initWeights is null");
        requireNonNull(bias, "bias is null");
        if (BoneVariant.fromOption(initWeights) == BoneVariant.BAT && dropout != 0) {
            throw wrongTogether(METHOD_ID, "option 'bone_dropout' is %s, but must be 0 with init_weights \"bat\": Bat transforms the weight, "
                    + "so there is no adapter input to drop. Remove bone_dropout or use init_weights true.", dropout);
        }
    }

    /** The variant {@code init_weights} selects. */
    public BoneVariant variant() {
        return BoneVariant.fromOption(initWeights);
    }
}
