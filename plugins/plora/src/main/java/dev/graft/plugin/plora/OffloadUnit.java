package dev.graft.plugin.plora;

/** What PeriodicLoRA's {@code offload_every} counts. */
public enum OffloadUnit {
    /** Training examples seen ({@code offload_unit: "samples"}, the default). */
    SAMPLES("samples"),
    /** Optimizer steps ({@code offload_unit: "steps"}). */
    STEPS("steps");

    private final String optionValue;

    OffloadUnit(String optionValue) {
        this.optionValue = optionValue;
    }

    /** The value of {@code offload_unit} that selects this unit. */
    public String optionValue() {
        return optionValue;
    }

    /** The unit named by a validated {@code offload_unit} value. */
    public static OffloadUnit fromOption(String value) {
        for (OffloadUnit unit : values()) {
            if (unit.optionValue.equals(value)) {
                return unit;
            }
        }
        throw new IllegalArgumentException(String.format("offload_unit must be \"samples\" or \"steps\", but is \"%s\"", value));
    }
}
