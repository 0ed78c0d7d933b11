package dev.graft.plugin.lora;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static dev.graft.spi.InvalidOptionsException.wrongTogether;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

import java.util.Map;
import java.util.LinkedHashMap;
import java.util.regex.PatternSyntaxException;

/**
 * The options of one LoRA adapter, declared once with PEFT's {@code LoraConfig} names, types and defaults (the SPI
 * checks types and ranges), with the per-site rank, alpha and scaling they imply.
 *
 * @param rank {@code r}, the default rank
 * @param alpha {@code lora_alpha}, the default alpha
 * @param dropout {@code lora_dropout}, applied to the input of {@code lora_A} while training
 * @param useRslora {@code use_rslora}: scale by {@code α/√r} instead of {@code α/r}
 * @param rankPattern {@code rank_pattern}: per-module ranks
 * @param alphaPattern {@code alpha_pattern}: per-module alphas
 * @param initLoraWeights {@code init_lora_weights}: {@code true}, {@code false}, {@code "gaussian"}, {@code "pissa"},
 *     {@code "pissa_niter_K"} or {@code "olora"} ({@code "eva"} is refused)
 * @param bias {@code bias}: which biases train; only {@code "none"}
 * @param fanInFanOut {@code fan_in_fan_out}: only false
 * @param loraBias {@code lora_bias}: give {@code lora_B} a bias
 * @param useDora {@code use_dora}: weight-decomposed LoRA (DoRA), a {@link DoraModule} per site
 */
record LoraConfiguration(
        @Option(name = RANK, defaultValue = "8", minimum = 1,
                description = "The rank r of lora_A (r×in) and lora_B (out×r); a whole number greater than 0.")
        int rank,
        @Option(name = ALPHA, defaultValue = "8", minimum = 0, minimumExclusive = true,
                description = "The alpha α of the scaling α/r (α/√r with use_rslora); greater than 0.")
        double alpha,
        @Option(name = DROPOUT, defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "Dropout probability on the input of lora_A while training, in [0, 1).")
        double dropout,
        @Option(name = USE_RSLORA, defaultValue = "false", description = "Rank-stabilised LoRA: scale by α/√r instead of α/r.")
        boolean useRslora,
        @Option(name = RANK_PATTERN, defaultValue = "{}", minimum = 1,
                description = "Per-module ranks: the first key k (a regular expression) for which (.*\\.)?(k)$ matches the module name wins, as in PEFT.")
        Map<String, Integer> rankPattern,
        @Option(name = ALPHA_PATTERN, defaultValue = "{}", minimum = 0, minimumExclusive = true,
                description = "Per-module alphas, matched like rank_pattern.")
        Map<String, Double> alphaPattern,
        @Option(name = INIT_LORA_WEIGHTS, defaultValue = "true", allowed = {"true", "false", "gaussian", "pissa", "pissa_niter_{n}", "olora", "eva"},
                description = "true: lora_A Kaiming-uniform, lora_B zero; \"gaussian\": lora_A ~ N(0, 1/r²), lora_B zero; false: nn.Linear default for both (debugging only); "
                        + "\"pissa\": the top-r singular part of W (exact SVD), \"pissa_niter_K\": the same by a randomized SVD with K iterations, "
                        + "\"olora\": the first r columns of W's QR; these take s·B·A over from W, so the output starts unchanged "
                        + "(save with conversion for a plain LoRA); \"eva\" is refused.")
        Object initLoraWeights,
        @Option(name = BIAS, defaultValue = NO_BIAS, allowed = {NO_BIAS, "all", "lora_only"},
                description = "Which biases train; only \"none\" is supported (PEFT's \"all\" and \"lora_only\" are rejected).")
        String bias,
        @Option(name = FAN_IN_FAN_OUT, defaultValue = "false",
                description = "Whether the base weight is stored (in, out); Graft linear sites store (out, in), so only false is supported.")
        boolean fanInFanOut,
        @Option(name = LORA_BIAS, defaultValue = "false", description = "Give lora_B a bias (out more parameters per site), as in PEFT.")
        boolean loraBias,
        @Option(name = USE_DORA, defaultValue = "false",
                description = "Weight-decomposed LoRA (DoRA): a trained magnitude lora_magnitude_vector (out) per site rescales each row of W + s·B·A to m/‖W + s·B·A‖, as in PEFT; not with lora_bias.")
        boolean useDora) {
    static final String METHOD_ID = "lora";
    static final String RANK = "r";
    static final String ALPHA = "lora_alpha";
    static final String DROPOUT = "lora_dropout";
    static final String USE_RSLORA = "use_rslora";
    static final String RANK_PATTERN = "rank_pattern";
    static final String ALPHA_PATTERN = "alpha_pattern";
    static final String INIT_LORA_WEIGHTS = "init_lora_weights";
    static final String BIAS = "bias";
    static final String FAN_IN_FAN_OUT = "fan_in_fan_out";
    static final String LORA_BIAS = "lora_bias";
    static final String USE_DORA = "use_dora";

    static final String NO_BIAS = "none";
    static final String EVA = "eva";

    /**
     * Checks what the schema cannot: PEFT features Graft does not support, and pattern keys that are not regular
     * expressions.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the method, the key, the value and what is allowed
     */
    LoraConfiguration {
        requireNonNull(rankPattern, "rankPattern is null");
        requireNonNull(alphaPattern, "alphaPattern is null");
        requireNonNull(initLoraWeights, "initLoraWeights is null");
        requireNonNull(bias, "bias is null");
        if (!NO_BIAS.equals(bias)) {
            throw invalidValue(METHOD_ID, BIAS, bias, "\"none\": Graft's LoRA never trains the base biases");
        }
        if (fanInFanOut) {
            throw invalidValue(METHOD_ID, FAN_IN_FAN_OUT, true, "false: Graft linear sites always store W as (out, in)");
        }
        if (useDora && loraBias) {
            throw wrongTogether(METHOD_ID, "options '%s' and '%s' are both true, but DoRA has no lora_B bias (PEFT refuses the pair too); "
                    + "set one of them to false.", USE_DORA, LORA_BIAS);
        }
        if (EVA.equals(initLoraWeights)) {
            throw invalidValue(METHOD_ID, INIT_LORA_WEIGHTS, EVA, "true, false, \"gaussian\", \"pissa\", \"pissa_niter_K\" or \"olora\": "
                    + "EVA initialises lora_A from an SVD of activations over training batches (PEFT's initialize_lora_eva_weights), "
                    + "which needs a data-driven pass over the model before training that Graft's trainer does not have yet");
        }
        if (loraBias && LoraInitialization.fromOption(initLoraWeights).derivesFromBase()) {
            throw wrongTogether(METHOD_ID, "lora_bias is true with init_lora_weights %s: PEFT leaves lora_B.bias at nn.Linear's random default under "
                    + "this initialisation, so the output would not start unchanged, and the conversion to plain LoRA cannot carry a bias. "
                    + "Set lora_bias to false or use init_lora_weights true.", initLoraWeights);
        }
        if (useDora && LoraInitialization.fromOption(initLoraWeights).derivesFromBase()) {
            throw wrongTogether(METHOD_ID, "use_dora is true with init_lora_weights %s: Graft's DoRA starts from a zero lora_B only for now. "
                    + "Set use_dora to false or use init_lora_weights true or \"gaussian\".", initLoraWeights);
        }
        checkKeys(RANK_PATTERN, rankPattern);
        checkKeys(ALPHA_PATTERN, alphaPattern);
    }

    /** The initialization {@code init_lora_weights} names. */
    LoraInitialization initialization() {
        return LoraInitialization.fromOption(initLoraWeights);
    }

    /** The {@code K} of {@code init_lora_weights: "pissa_niter_K"}, or -1 for any other initialization. */
    int powerIterations() {
        return LoraInitialization.powerIterations(initLoraWeights);
    }

    /** The rank of the module named {@code moduleName}: its {@code rank_pattern} value, else {@code r}. */
    int rankFor(String moduleName) {
        Map<String, Double> ranks = new LinkedHashMap<>();
        rankPattern.forEach((key, value) -> ranks.put(key, value.doubleValue()));
        return ModulePatterns.of(ranks).lookup(moduleName).map(Double::intValue).orElse(rank);
    }

    /** The alpha of the module named {@code moduleName}: its {@code alpha_pattern} value, else {@code lora_alpha}. */
    double alphaFor(String moduleName) {
        return ModulePatterns.of(alphaPattern).lookup(moduleName).orElse(alpha);
    }

    /** The scaling of the module named {@code moduleName}: {@code α/r}, or {@code α/√r} with rsLoRA. */
    float scalingFor(String moduleName) {
        int siteRank = rankFor(moduleName);
        double siteAlpha = alphaFor(moduleName);
        return (float) (useRslora ? siteAlpha / Math.sqrt(siteRank) : siteAlpha / siteRank);
    }

    private static void checkKeys(String option, Map<String, ?> values) {
        for (String key : values.keySet()) {
            try {
                ModulePatterns.compile(key);
            }
            catch (PatternSyntaxException e) {
                throw wrongTogether(METHOD_ID, "option '%s' has key '%s', which is not a valid regular expression (%s). "
                        + "Keys are regular expressions matched against the end of module names, as in PEFT; fix or escape the key.",
                        option, key, e.getDescription());
            }
        }
    }
}
