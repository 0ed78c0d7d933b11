package dev.graft.plugin.bone;

import static java.lang.String.format;

/** The Bone variant and initialisation selected by PEFT's {@code init_weights}. */
public enum BoneVariant {
    /**
     * {@code init_weights: true} (the default): Bone, one {@code bone_block (r × out)} added to every
     * {@code r}-column block of {@code W}, zero at start (a no-op).
     */
    BONE,
    /**
     * {@code init_weights: false}: Bone with {@code bone_block} Kaiming-uniform with {@code a = √5}, as PEFT's
     * {@code reset_bone_parameters_random}: on an {@code (r, out)} tensor the fan-in is {@code out}, so
     * {@code U(±1/√out)}. Not a no-op at start.
     */
    BONE_RANDOM,
    /**
     * {@code init_weights: "bat"}: Bat (block affine transformation), {@code bone_block (out/r × r × r)} zero at start,
     * {@code ΔW_ij = W_ij·B_i + B_i} for the {@code r × r} block {@code W_ij} in output block {@code i}, input block
     * {@code j}. Needs {@code in} and {@code out} divisible by {@code r}.
     */
    BAT;

    /**
     * The variant named by a validated {@code init_weights} value.
     *
     * @param value {@code true}, {@code false} or {@code "bat"}
     * @throws IllegalArgumentException for any other value
     */
    public static BoneVariant fromOption(Object value) {
        if (Boolean.TRUE.equals(value)) {
            return BONE;
        }
        if (Boolean.FALSE.equals(value)) {
            return BONE_RANDOM;
        }
        if ("bat".equals(value)) {
            return BAT;
        }
        throw new IllegalArgumentException(format("init_weights must be true, false or \"bat\", but is %s", value));
    }
}
