package dev.graft.plugin.adapter;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.OptionType;
import dev.graft.spi.SublayerKind;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The options of one bottleneck adapter, named as in AdapterHub's {@code BnConfig}: a preset ({@code config}) whose
 * settings explicit options override, checked for range.
 *
 * @param preset the {@code config} preset
 * @param reductionFactor {@code reduction_factor}: the bottleneck is {@code ⌊hidden / reduction_factor⌋} wide (at least 1)
 * @param nonLinearity {@code non_linearity}
 * @param scaling {@code scaling}: the factor on the adapter output
 * @param initialization {@code init_weights}
 * @param mhAdapter {@code mh_adapter}: adapt the attention sublayers
 * @param outputAdapter {@code output_adapter}: adapt the feed-forward sublayers
 * @param parallel {@code is_parallel}: read the sublayer input instead of its output
 * @param dropout {@code dropout} on the adapter output while training
 * @param leaveOut {@code leave_out}: layers that get no adapter
 */
record BottleneckConfiguration(
        AdapterPreset preset,
        double reductionFactor,
        NonLinearity nonLinearity,
        double scaling,
        AdapterInitialization initialization,
        boolean mhAdapter,
        boolean outputAdapter,
        boolean parallel,
        double dropout,
        Set<Integer> leaveOut) {
    static final String METHOD_ID = "adapter";
    static final String CONFIG = "config";
    static final String REDUCTION_FACTOR = "reduction_factor";
    static final String NON_LINEARITY = "non_linearity";
    static final String SCALING = "scaling";
    static final String INIT_WEIGHTS = "init_weights";
    static final String MH_ADAPTER = "mh_adapter";
    static final String OUTPUT_ADAPTER = "output_adapter";
    static final String IS_PARALLEL = "is_parallel";
    static final String DROPOUT = "dropout";
    static final String LEAVE_OUT = "leave_out";

    /** The bottleneck adapter's options with AdapterHub's names; absent preset-driven options take the preset's value. */
    static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.choice(CONFIG, "pfeiffer", AdapterPreset.OPTION_VALUES,
                    "Preset: \"pfeiffer\"/\"seq_bn\" (feed-forward, reduction 16, relu), \"houlsby\"/\"double_seq_bn\" (attention and feed-forward, "
                            + "reduction 16, swish) or \"parallel\"/\"par_bn\" (beside the feed-forward sublayer, reduction 2, relu, scaling 4)."),
            presetDriven(REDUCTION_FACTOR, OptionType.NUMBER,
                    "The bottleneck is floor(hidden / reduction_factor) wide (at least 1); a number greater than 0. Default: the preset's."),
            new OptionSpec(NON_LINEARITY, OptionType.CHOICE, null, false, NonLinearity.OPTION_VALUES,
                    "Activation between the projections: relu, swish (alias silu), gelu (exact) or tanh. Default: the preset's."),
            presetDriven(SCALING, OptionType.NUMBER, "Factor on the adapter output, a finite number. Default: the preset's (1.0, or 4.0 for parallel)."),
            OptionSpec.choice(INIT_WEIGHTS, "mam_adapter", AdapterInitialization.OPTION_VALUES,
                    "\"mam_adapter\" (default: Kaiming-uniform down, zero up, an exact no-op at start), \"bert\" (both N(0, 0.02), AdapterHub's "
                            + "sequential default, not a no-op) or \"houlsby\" (both truncated N(0, 0.01)); biases start at zero."),
            presetDriven(MH_ADAPTER, OptionType.BOOLEAN, "Adapt the attention sublayers (self_attn). Default: the preset's."),
            presetDriven(OUTPUT_ADAPTER, OptionType.BOOLEAN, "Adapt the feed-forward sublayers (mlp). Default: the preset's."),
            presetDriven(IS_PARALLEL, OptionType.BOOLEAN,
                    "Read the sublayer's (normalised) input instead of its output, as a parallel adapter. Default: the preset's."),
            OptionSpec.number(DROPOUT, 0.0, "Dropout probability on the adapter output while training, in [0, 1)."),
            new OptionSpec(LEAVE_OUT, OptionType.INTEGER_LIST, List.of(), false, List.of(), "Layer indices (from 0) that get no adapter."));

    BottleneckConfiguration {
        requireNonNull(preset, "preset is null");
        requireNonNull(nonLinearity, "nonLinearity is null");
        requireNonNull(initialization, "initialization is null");
        leaveOut = Set.copyOf(requireNonNull(leaveOut, "leaveOut is null"));
    }

    /**
     * Reads and checks options that {@link #SCHEMA} has validated, for a model of {@code numLayers} layers.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed
     */
    static BottleneckConfiguration fromOptions(MethodOptions options, int numLayers) {
        requireNonNull(options, "options is null");
        AdapterPreset preset = AdapterPreset.fromOption(options.getString(CONFIG));
        double reductionFactor = options.has(REDUCTION_FACTOR) ? options.getDouble(REDUCTION_FACTOR) : preset.reductionFactor();
        if (!(reductionFactor > 0 && Double.isFinite(reductionFactor))) {
            throw invalid(REDUCTION_FACTOR, reductionFactor, "a finite number greater than 0");
        }
        double scaling = options.has(SCALING) ? options.getDouble(SCALING) : preset.scaling();
        if (!Double.isFinite(scaling)) {
            throw invalid(SCALING, scaling, "a finite number (AdapterHub's \"learned\" and \"channel\" scalings are not supported)");
        }
        double dropout = options.getDouble(DROPOUT);
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid(DROPOUT, dropout, "a probability p with 0 <= p < 1");
        }
        boolean mhAdapter = options.has(MH_ADAPTER) ? options.getBoolean(MH_ADAPTER) : preset.mhAdapter();
        boolean outputAdapter = options.has(OUTPUT_ADAPTER) ? options.getBoolean(OUTPUT_ADAPTER) : preset.outputAdapter();
        if (!mhAdapter && !outputAdapter) {
            throw new InvalidOptionsException(format(
                    "Method '%s': options '%s' and '%s' are both false, so the adapter attaches nowhere. Set at least one of them to true.",
                    METHOD_ID, MH_ADAPTER, OUTPUT_ADAPTER));
        }
        Set<Integer> leaveOut = new TreeSet<>(options.getIntList(LEAVE_OUT));
        for (int layer : leaveOut) {
            if (layer < 0 || layer >= numLayers) {
                throw invalid(LEAVE_OUT, options.getIntList(LEAVE_OUT), format("a list of layer indices from 0 to %d (the model has %d layers)", numLayers - 1, numLayers));
            }
        }
        if (leaveOut.size() == numLayers) {
            throw invalid(LEAVE_OUT, options.getIntList(LEAVE_OUT), "a list that leaves at least one layer with an adapter");
        }
        return new BottleneckConfiguration(
                preset,
                reductionFactor,
                options.has(NON_LINEARITY) ? NonLinearity.fromOption(options.getString(NON_LINEARITY)) : preset.nonLinearity(),
                scaling,
                AdapterInitialization.fromOption(options.getString(INIT_WEIGHTS)),
                mhAdapter,
                outputAdapter,
                options.has(IS_PARALLEL) ? options.getBoolean(IS_PARALLEL) : preset.parallel(),
                dropout,
                leaveOut);
    }

    /** The bottleneck width for a sublayer of width {@code hidden}: {@code ⌊hidden / reduction_factor⌋}, at least 1, as AdapterHub. */
    int bottleneckSize(int hidden) {
        return Math.max(1, (int) Math.floor(hidden / reductionFactor));
    }

    /** Whether an adapter goes at a sublayer of {@code kind} in layer {@code layer}. */
    boolean adapts(SublayerKind kind, int layer) {
        if (leaveOut.contains(layer)) {
            return false;
        }
        switch (requireNonNull(kind, "kind is null")) {
            case ATTENTION:
                return mhAdapter;
            case FEED_FORWARD:
                return outputAdapter;
        }
        throw new AssertionError(kind);
    }

    private static OptionSpec presetDriven(String name, OptionType type, String description) {
        return new OptionSpec(name, type, null, false, List.of(), description);
    }

    private static InvalidOptionsException invalid(String option, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s. Fix the value.", METHOD_ID, option, value, allowed));
    }
}
