package dev.graft.plugin.bone;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;

import java.util.List;

/**
 * Bone's validated options, with Hugging Face PEFT's {@code BoneConfig} field names and defaults (PEFT v0.14 to
 * v0.18; PEFT removed Bone in favour of MiSS after that). {@code bone_dropout} is Graft's addition, after MiSS's
 * {@code miss_dropout}: PEFT's Bone has no dropout.
 *
 * @param rank {@code r}: the block size
 * @param variant {@code init_weights}: Bone (zero or random start) or Bat
 * @param dropout {@code bone_dropout}: dropout on Bone's input while training
 */
public record BoneConfiguration(int rank, BoneVariant variant, double dropout) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "bone";

    /** The option schema, with PEFT's defaults. */
    public static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.integer("r", 64, "block size r: bone_block is r x out (Bone) or out/r x r x r (Bat); at least 1"),
            OptionSpec.choice("init_weights", true, List.of(true, false, "bat"),
                    "true: Bone starting at zero (a no-op); false: Bone with a Kaiming-uniform start; \"bat\": block affine Bat, needs in and out divisible by r"),
            OptionSpec.number("bone_dropout", 0.0, "dropout probability on Bone's input while training, in [0, 1); 0 with \"bat\" (not in PEFT's Bone)"),
            OptionSpec.choice("bias", "none", List.of("none"), "which biases to train; only \"none\" is supported"));

    public BoneConfiguration {
        requireNonNull(variant, "variant is null");
        if (rank <= 0) {
            throw invalid("r", rank, "a whole number of at least 1");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid("bone_dropout", dropout, "a number in [0, 1)");
        }
        if (variant == BoneVariant.BAT && dropout != 0) {
            throw invalid("bone_dropout", dropout, "0 with init_weights \"bat\": Bat transforms the weight, so there is no adapter input to drop");
        }
    }

    /**
     * Reads validated options.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed, for a value out of range
     */
    public static BoneConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        return new BoneConfiguration(options.getInt("r"), BoneVariant.fromOption(options.get("init_weights")), options.getDouble("bone_dropout"));
    }

    static InvalidOptionsException invalid(String key, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s.", METHOD_ID, key, value, allowed));
    }
}
