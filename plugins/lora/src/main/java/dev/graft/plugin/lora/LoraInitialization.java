package dev.graft.plugin.lora;

import static java.lang.String.format;

/**
 * How the LoRA matrices start, after PEFT's {@code init_lora_weights}.
 */
public enum LoraInitialization {
    /**
     * {@code init_lora_weights: true}, PEFT's default: {@code lora_A} Kaiming-uniform with {@code a = √5}, which is
     * {@code U(−1/√in, 1/√in)}; {@code lora_B} (and its bias) zero, so the adapter starts as a no-op.
     */
    KAIMING_UNIFORM,
    /**
     * {@code init_lora_weights: "gaussian"}: {@code lora_A ~ N(0, (1/r)²)}; {@code lora_B} (and its bias) zero, so
     * the adapter starts as a no-op.
     */
    GAUSSIAN,
    /**
     * {@code init_lora_weights: false}: both matrices keep PyTorch's {@code nn.Linear} default,
     * {@code U(−1/√fan_in, 1/√fan_in)} with {@code fan_in = in} for {@code lora_A} and {@code fan_in = r} for
     * {@code lora_B} and its bias. The adapter does not start as a no-op; PEFT documents this for debugging only.
     */
    LINEAR_DEFAULT;

    /**
     * The initialization named by a validated {@code init_lora_weights} value.
     *
     * @param value {@code true}, {@code false} or {@code "gaussian"}
     * @throws IllegalArgumentException for any other value
     */
    public static LoraInitialization fromOption(Object value) {
        if (Boolean.TRUE.equals(value)) {
            return KAIMING_UNIFORM;
        }
        if (Boolean.FALSE.equals(value)) {
            return LINEAR_DEFAULT;
        }
        if ("gaussian".equals(value)) {
            return GAUSSIAN;
        }
        throw new IllegalArgumentException(format("init_lora_weights must be true, false or \"gaussian\", but is %s", value));
    }
}
