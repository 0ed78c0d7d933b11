package dev.graft.plugin.bone;

import static java.lang.String.format;

/** The MiSS variant and initialisation selected by PEFT's {@code init_weights} ({@code MissConfig}). */
public enum MissVariant {
    /**
     * {@code init_weights: true} (the default, PEFT's "balance"): {@code miss_block (r × out)} added to every
     * {@code r}-column block of {@code W}, zero at start (a no-op). Bone's default under another name.
     */
    MISS,
    /**
     * {@code init_weights: false}: as {@link #MISS} with {@code miss_block} Kaiming-uniform with {@code a = √5}
     * (fan-in {@code out}, so {@code U(±1/√out)}), as PEFT's {@code reset_miss_parameters_random}. Not a no-op at start.
     */
    MISS_RANDOM,
    /**
     * {@code init_weights: "bat"}: block affine, {@code miss_block (out/r × r × r)} zero at start,
     * {@code ΔW_ij = W_ij·B_i + B_i}; Bone's Bat under another name. Needs {@code in} and {@code out} divisible by
     * {@code r}.
     */
    BAT,
    /**
     * {@code init_weights: "mini"}: {@code miss_block (r × mini_r)}, zero at start, repeated {@code out/mini_r} times
     * along the output axis and then used as {@link #MISS}'s block. Needs {@code out} divisible by {@code mini_r}.
     */
    MINI;

    /**
     * The variant named by a validated {@code init_weights} value.
     *
     * @param value {@code true}, {@code false}, {@code "bat"} or {@code "mini"}
     * @throws IllegalArgumentException for any other value
     */
    public static MissVariant fromOption(Object value) {
        if (Boolean.TRUE.equals(value)) {
            return MISS;
        }
        if (Boolean.FALSE.equals(value)) {
            return MISS_RANDOM;
        }
        if ("bat".equals(value)) {
            return BAT;
        }
        if ("mini".equals(value)) {
            return MINI;
        }
        throw new IllegalArgumentException(format("init_weights must be true, false, \"bat\" or \"mini\", but is %s", value));
    }
}
