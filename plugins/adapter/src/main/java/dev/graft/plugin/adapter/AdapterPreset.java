package dev.graft.plugin.adapter;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * AdapterHub's bottleneck presets ({@code configuration/adapter_config.py}), by their classic and current names.
 * Each fixes the reduction factor, the activation, the scaling and where the adapter sits; explicit options override
 * each setting.
 */
public enum AdapterPreset {
    /** {@code pfeiffer} / {@code seq_bn} (Pfeiffer et al. 2020): after the feed-forward sublayer only, reduction 16, ReLU. */
    PFEIFFER("pfeiffer", "seq_bn", 16, NonLinearity.RELU, 1.0, false, true, false),
    /** {@code houlsby} / {@code double_seq_bn} (Houlsby et al. 2019): after attention and feed-forward, reduction 16, swish. */
    HOULSBY("houlsby", "double_seq_bn", 16, NonLinearity.SWISH, 1.0, true, true, false),
    /**
     * {@code parallel} / {@code par_bn} (He et al. 2021): beside the feed-forward sublayer, reading its input, reduction 2,
     * ReLU, scaling 4.
     */
    PARALLEL("parallel", "par_bn", 2, NonLinearity.RELU, 4.0, false, true, true);

    /** The accepted {@code config} values. */
    static final List<Object> OPTION_VALUES = List.of("pfeiffer", "houlsby", "parallel", "seq_bn", "double_seq_bn", "par_bn");

    private final String name;
    private final String alias;
    private final double reductionFactor;
    private final NonLinearity nonLinearity;
    private final double scaling;
    private final boolean mhAdapter;
    private final boolean outputAdapter;
    private final boolean parallel;

    AdapterPreset(String name, String alias, double reductionFactor, NonLinearity nonLinearity, double scaling, boolean mhAdapter, boolean outputAdapter,
            boolean parallel) {
        this.name = name;
        this.alias = alias;
        this.reductionFactor = reductionFactor;
        this.nonLinearity = nonLinearity;
        this.scaling = scaling;
        this.mhAdapter = mhAdapter;
        this.outputAdapter = outputAdapter;
        this.parallel = parallel;
    }

    /** The classic name ({@code pfeiffer}, {@code houlsby}, {@code parallel}). */
    public String optionValue() {
        return name;
    }

    /** The preset's {@code reduction_factor}. */
    public double reductionFactor() {
        return reductionFactor;
    }

    /** The preset's {@code non_linearity}. */
    public NonLinearity nonLinearity() {
        return nonLinearity;
    }

    /** The preset's {@code scaling}. */
    public double scaling() {
        return scaling;
    }

    /** Whether the preset adapts the attention sublayer ({@code mh_adapter}). */
    public boolean mhAdapter() {
        return mhAdapter;
    }

    /** Whether the preset adapts the feed-forward sublayer ({@code output_adapter}). */
    public boolean outputAdapter() {
        return outputAdapter;
    }

    /** Whether the preset's adapters read the sublayer input ({@code is_parallel}). */
    public boolean parallel() {
        return parallel;
    }

    /**
     * The preset named by a validated {@code config} value (classic name or AdapterHub's current name).
     *
     * @throws IllegalArgumentException for a name that is not one of {@link #OPTION_VALUES}
     */
    static AdapterPreset fromOption(String value) {
        requireNonNull(value, "value is null");
        for (AdapterPreset preset : values()) {
            if (preset.name.equals(value) || preset.alias.equals(value)) {
                return preset;
            }
        }
        throw new IllegalArgumentException(String.format("config must be one of %s, but is \"%s\"", OPTION_VALUES, value));
    }
}
