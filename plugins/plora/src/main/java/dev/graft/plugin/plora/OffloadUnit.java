package dev.graft.plugin.plora;

import java.util.Locale;

/** What PeriodicLoRA's {@code offload_every} counts. */
public enum OffloadUnit {
    /** Training examples seen ({@code offload_unit: "samples"}, the default). */
    SAMPLES,
    /** Optimizer steps ({@code offload_unit: "steps"}). */
    STEPS;

    /** The value of {@code offload_unit} that selects this unit. */
    public String optionValue() {
        return name().toLowerCase(Locale.ROOT);
    }
}
