package dev.graft.plugin.adapter;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static dev.graft.spi.InvalidOptionsException.wrongTogether;
import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;
import dev.graft.spi.SublayerKind;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The options of one bottleneck adapter, declared once with AdapterHub's {@code BnConfig} names: a preset
 * ({@code config}) whose settings the explicit options override (the SPI checks types and ranges). An absent
 * preset-driven option is {@code null}; the methods below give the values in effect.
 *
 * @param config the {@code config} preset
 * @param reductionFactor {@code reduction_factor}: the bottleneck is {@code ⌊hidden / reduction_factor⌋} wide (at least 1)
 * @param nonLinearity {@code non_linearity}
 * @param scaling {@code scaling}: the factor on the adapter output
 * @param initWeights {@code init_weights}
 * @param mhAdapter {@code mh_adapter}: adapt the attention sublayers
 * @param outputAdapter {@code output_adapter}: adapt the feed-forward sublayers
 * @param isParallel {@code is_parallel}: read the sublayer input instead of its output
 * @param dropout {@code dropout} on the adapter output while training
 * @param leaveOut {@code leave_out}: layers that get no adapter
 */
record BottleneckConfiguration(
        @Option(name = "config", defaultValue = "pfeiffer", allowed = {"pfeiffer", "houlsby", "parallel", "seq_bn", "double_seq_bn", "par_bn"},
                description = "Preset: \"pfeiffer\"/\"seq_bn\" (feed-forward, reduction 16, relu), \"houlsby\"/\"double_seq_bn\" (attention and feed-forward, "
                        + "reduction 16, swish) or \"parallel\"/\"par_bn\" (beside the feed-forward sublayer, reduction 2, relu, scaling 4).")
        String config,
        @Option(name = "reduction_factor", minimum = 0, minimumExclusive = true,
                description = "The bottleneck is floor(hidden / reduction_factor) wide (at least 1); a number greater than 0. Default: the preset's.")
        Double reductionFactor,
        @Option(name = "non_linearity", allowed = {"relu", "swish", "gelu", "tanh", "silu"},
                description = "Activation between the projections: relu, swish (alias silu), gelu (exact) or tanh. Default: the preset's.")
        String nonLinearity,
        @Option(name = "scaling", description = "Factor on the adapter output, a finite number. Default: the preset's (1.0, or 4.0 for parallel).")
        Double scaling,
        @Option(name = "init_weights", defaultValue = "mam_adapter", allowed = {"mam_adapter", "bert", "houlsby"},
                description = "\"mam_adapter\" (default: Kaiming-uniform down, zero up, an exact no-op at start), \"bert\" (both N(0, 0.02), AdapterHub's "
                        + "sequential default, not a no-op) or \"houlsby\" (both truncated N(0, 0.01)); biases start at zero.")
        String initWeights,
        @Option(name = "mh_adapter", description = "Adapt the attention sublayers (self_attn). Default: the preset's.")
        Boolean mhAdapter,
        @Option(name = "output_adapter", description = "Adapt the feed-forward sublayers (mlp). Default: the preset's.")
        Boolean outputAdapter,
        @Option(name = "is_parallel", description = "Read the sublayer's (normalised) input instead of its output, as a parallel adapter. Default: the preset's.")
        Boolean isParallel,
        @Option(name = "dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "Dropout probability on the adapter output while training, in [0, 1).")
        double dropout,
        @Option(name = "leave_out", defaultValue = "[]", description = "Layer indices (from 0) that get no adapter.")
        List<Integer> leaveOut) {
    static final String METHOD_ID = "adapter";

    /**
     * Checks what the schema cannot.
     *
     * @throws dev.graft.spi.InvalidOptionsException for a non-finite {@code scaling}, or {@code mh_adapter} and
     *         {@code output_adapter} both false
     */
    BottleneckConfiguration {
        requireNonNull(config, "config is null");
        requireNonNull(initWeights, "initWeights is null");
        leaveOut = List.copyOf(requireNonNull(leaveOut, "leaveOut is null"));
        double effectiveScaling = scaling != null ? scaling : AdapterPreset.fromOption(config).scaling();
        if (!Double.isFinite(effectiveScaling)) {
            throw invalidValue(METHOD_ID, "scaling", effectiveScaling, "a finite number (AdapterHub's \"learned\" and \"channel\" scalings are not supported)");
        }
        boolean attention = mhAdapter != null ? mhAdapter : AdapterPreset.fromOption(config).mhAdapter();
        boolean feedForward = outputAdapter != null ? outputAdapter : AdapterPreset.fromOption(config).outputAdapter();
        if (!attention && !feedForward) {
            throw wrongTogether(METHOD_ID, "options 'mh_adapter' and 'output_adapter' are both false, so the adapter attaches nowhere. Set at least one of them to true.");
        }
    }

    /**
     * Checks {@code leave_out} against a model of {@code numLayers} layers.
     *
     * @throws dev.graft.spi.InvalidOptionsException for an index outside the model's layers, or one that leaves out every layer
     */
    void checkLayers(int numLayers) {
        Set<Integer> layers = new TreeSet<>(leaveOut);
        for (int layer : layers) {
            if (layer < 0 || layer >= numLayers) {
                throw invalidValue(METHOD_ID, "leave_out", leaveOut, format("a list of layer indices from 0 to %d (the model has %d layers)", numLayers - 1, numLayers));
            }
        }
        if (layers.size() == numLayers) {
            throw invalidValue(METHOD_ID, "leave_out", leaveOut, "a list that leaves at least one layer with an adapter");
        }
    }

    /** The preset {@code config} names. */
    AdapterPreset preset() {
        return AdapterPreset.fromOption(config);
    }

    /** The bottleneck width for a sublayer of width {@code hidden}: {@code ⌊hidden / reduction_factor⌋}, at least 1, as AdapterHub. */
    int bottleneckSize(int hidden) {
        double factor = reductionFactor != null ? reductionFactor : preset().reductionFactor();
        return Math.max(1, (int) Math.floor(hidden / factor));
    }

    /** The activation in effect: {@code non_linearity}, else the preset's. */
    NonLinearity activation() {
        return nonLinearity != null ? NonLinearity.fromOption(nonLinearity) : preset().nonLinearity();
    }

    /** The output factor in effect: {@code scaling}, else the preset's. */
    double outputScaling() {
        return scaling != null ? scaling : preset().scaling();
    }

    /** The initialization {@code init_weights} names. */
    AdapterInitialization initialization() {
        return AdapterInitialization.fromOption(initWeights);
    }

    /** Whether the adapter reads the sublayer input: {@code is_parallel}, else the preset's. */
    boolean parallel() {
        return isParallel != null ? isParallel : preset().parallel();
    }

    /** Whether an adapter goes at a sublayer of {@code kind} in layer {@code layer}. */
    boolean adapts(SublayerKind kind, int layer) {
        if (leaveOut.contains(layer)) {
            return false;
        }
        switch (requireNonNull(kind, "kind is null")) {
            case ATTENTION:
                return mhAdapter != null ? mhAdapter : preset().mhAdapter();
            case FEED_FORWARD:
                return outputAdapter != null ? outputAdapter : preset().outputAdapter();
        }
        throw new AssertionError(kind);
    }
}
