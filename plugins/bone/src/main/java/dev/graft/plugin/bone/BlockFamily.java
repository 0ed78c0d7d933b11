package dev.graft.plugin.bone;

/**
 * The PEFT generation a block module belongs to: Bone (PEFT v0.14 to v0.18) or MiSS (PEFT v0.19 on, Bone's
 * successor). The math of the shared variants is the same; only the names differ: the parameter (and checkpoint key
 * suffix) {@code bone_block} or {@code miss_block}, and the label in messages.
 */
public enum BlockFamily {
    /** PEFT's Bone: {@code bone_block}, {@code peft_type: BONE}. */
    BONE("Bone", "Bat", "bone_block"),
    /** PEFT's MiSS: {@code miss_block}, {@code peft_type: MISS}. */
    MISS("MiSS", "MiSS bat", "miss_block");

    private final String label;
    private final String batLabel;
    private final String parameterName;

    BlockFamily(String label, String batLabel, String parameterName) {
        this.label = label;
        this.batLabel = batLabel;
        this.parameterName = parameterName;
    }

    /** The name of the additive variant in messages: {@code Bone} or {@code MiSS}. */
    public String label() {
        return label;
    }

    /** The name of the block affine variant in messages: {@code Bat} or {@code MiSS bat}. */
    public String batLabel() {
        return batLabel;
    }

    /** The parameter name and checkpoint key suffix of the trained tensor: {@code bone_block} or {@code miss_block}. */
    public String parameterName() {
        return parameterName;
    }
}
