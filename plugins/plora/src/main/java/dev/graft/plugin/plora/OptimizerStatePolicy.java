package dev.graft.plugin.plora;

/** What PeriodicLoRA does to the optimizer state of its parameters at an offload. */
public enum OptimizerStatePolicy {
    /**
     * {@code optimizer_state: "reset"} (the default): moments and step counts of the adapter's parameters are reset
     * through {@link dev.graft.spi.TrainingContext#resetOptimizerState}, so each stage starts like a new LoRA run.
     */
    RESET("reset"),
    /** {@code optimizer_state: "keep"}: the optimizer state carries over from stage to stage. */
    KEEP("keep");

    private final String optionValue;

    OptimizerStatePolicy(String optionValue) {
        this.optionValue = optionValue;
    }

    /** The value of {@code optimizer_state} that selects this policy. */
    public String optionValue() {
        return optionValue;
    }

    /** The policy named by a validated {@code optimizer_state} value. */
    public static OptimizerStatePolicy fromOption(String value) {
        for (OptimizerStatePolicy policy : values()) {
            if (policy.optionValue.equals(value)) {
                return policy;
            }
        }
        throw new IllegalArgumentException(String.format("optimizer_state must be \"reset\" or \"keep\", but is \"%s\"", value));
    }
}
