package dev.graft.plugin.plora;

import java.util.Locale;

/** What PeriodicLoRA does to the optimizer state of its parameters at an offload. */
public enum OptimizerStatePolicy {
    /**
     * {@code optimizer_state: "reset"} (the default): moments and step counts of the adapter's parameters are reset
     * through {@link dev.graft.spi.TrainingContext#resetOptimizerState}, so each stage starts like a new LoRA run.
     */
    RESET,
    /** {@code optimizer_state: "keep"}: the optimizer state carries over from stage to stage. */
    KEEP;

    /** The value of {@code optimizer_state} that selects this policy. */
    public String optionValue() {
        return name().toLowerCase(Locale.ROOT);
    }
}
