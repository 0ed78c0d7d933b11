package dev.graft.plugin.lora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;

import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.PatternSyntaxException;

/**
 * The options of one LoRA adapter, named and defaulted as in PEFT's {@code LoraConfig}, checked for range and
 * support, with the per-site rank, alpha and scaling they imply.
 *
 * @param rank {@code r}, the default rank
 * @param alpha {@code lora_alpha}, the default alpha
 * @param dropout {@code lora_dropout}, applied to the input of {@code lora_A} while training
 * @param useRslora {@code use_rslora}: scale by {@code α/√r} instead of {@code α/r}
 * @param rankPattern {@code rank_pattern}: per-module ranks
 * @param alphaPattern {@code alpha_pattern}: per-module alphas
 * @param initialization {@code init_lora_weights}
 * @param loraBias {@code lora_bias}: give {@code lora_B} a bias
 */
record LoraConfiguration(
        int rank,
        double alpha,
        double dropout,
        boolean useRslora,
        ModulePatterns rankPattern,
        ModulePatterns alphaPattern,
        LoraInitialization initialization,
        boolean loraBias) {
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

    private static final String NO_BIAS = "none";

    /** LoRA's options with PEFT's names and defaults. */
    static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.integer(RANK, 8, "The rank r of lora_A (r×in) and lora_B (out×r); a whole number greater than 0."),
            OptionSpec.number(ALPHA, 8, "The alpha α of the scaling α/r (α/√r with use_rslora)."),
            OptionSpec.number(DROPOUT, 0.0, "Dropout probability on the input of lora_A while training, in [0, 1)."),
            OptionSpec.bool(USE_RSLORA, false, "Rank-stabilised LoRA: scale by α/√r instead of α/r."),
            OptionSpec.integerMap(RANK_PATTERN, Map.of(),
                    "Per-module ranks: the first key k (a regular expression) for which (.*\\.)?(k)$ matches the module name wins, as in PEFT."),
            OptionSpec.numberMap(ALPHA_PATTERN, Map.of(),
                    "Per-module alphas, matched like rank_pattern."),
            OptionSpec.choice(INIT_LORA_WEIGHTS, true, List.of(true, false, "gaussian"),
                    "true: lora_A Kaiming-uniform, lora_B zero; \"gaussian\": lora_A ~ N(0, 1/r²), lora_B zero; false: nn.Linear default for both (debugging only)."),
            OptionSpec.choice(BIAS, NO_BIAS, List.of(NO_BIAS, "all", "lora_only"),
                    "Which biases train; only \"none\" is supported (PEFT's \"all\" and \"lora_only\" are rejected)."),
            OptionSpec.bool(FAN_IN_FAN_OUT, false,
                    "Whether the base weight is stored (in, out); Graft linear sites store (out, in), so only false is supported."),
            OptionSpec.bool(LORA_BIAS, false, "Give lora_B a bias (out more parameters per site), as in PEFT."),
            OptionSpec.bool(USE_DORA, false, "Weight-decomposed LoRA (DoRA); not supported yet, only false is accepted."));

    LoraConfiguration {
        requireNonNull(rankPattern, "rankPattern is null");
        requireNonNull(alphaPattern, "alphaPattern is null");
        requireNonNull(initialization, "initialization is null");
    }

    /**
     * Reads and checks options that {@link #SCHEMA} has validated.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed, for a value out of
     *         range or a PEFT feature Graft does not support
     */
    static LoraConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        int rank = options.getInt(RANK);
        if (rank <= 0) {
            throw invalid(RANK, rank, "a whole number greater than 0");
        }
        double dropout = options.getDouble(DROPOUT);
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid(DROPOUT, dropout, "a probability p with 0 <= p < 1");
        }
        Map<String, Double> rankPattern = new LinkedHashMap<>();
        options.getIntegerMap(RANK_PATTERN).forEach((key, value) -> {
            rankPattern.put(key, value.doubleValue());
            if (value <= 0) {
                throw new InvalidOptionsException(format(
                        "Method '%s': option '%s' maps '%s' to %s; ranks must be whole numbers greater than 0. Fix the value.",
                        METHOD_ID, RANK_PATTERN, key, value));
            }
        });
        Map<String, Double> alphaPattern = options.getNumberMap(ALPHA_PATTERN);
        alphaPattern.forEach((key, value) -> {
            if (!(value > 0)) {
                throw new InvalidOptionsException(format(
                        "Method '%s': option '%s' maps '%s' to %s; alphas must be greater than 0. Fix the value.",
                        METHOD_ID, ALPHA_PATTERN, key, value));
            }
        });
        String bias = options.getString(BIAS);
        if (!NO_BIAS.equals(bias)) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is \"%s\", which is not supported: Graft's LoRA never trains the base biases. Allowed value: \"%s\".",
                    METHOD_ID, BIAS, bias, NO_BIAS));
        }
        if (options.getBoolean(FAN_IN_FAN_OUT)) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is true, which is not supported: Graft linear sites always store W as (out, in). Allowed value: false.",
                    METHOD_ID, FAN_IN_FAN_OUT));
        }
        if (options.getBoolean(USE_DORA)) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is true: DoRA is not supported yet. Allowed value: false.", METHOD_ID, USE_DORA));
        }
        return new LoraConfiguration(
                rank,
                options.getDouble(ALPHA),
                dropout,
                options.getBoolean(USE_RSLORA),
                patterns(RANK_PATTERN, rankPattern),
                patterns(ALPHA_PATTERN, alphaPattern),
                LoraInitialization.fromOption(options.get(INIT_LORA_WEIGHTS)),
                options.getBoolean(LORA_BIAS));
    }

    /** The rank of the module named {@code moduleName}: its {@code rank_pattern} value, else {@code r}. */
    int rankFor(String moduleName) {
        return rankPattern.lookup(moduleName).map(Double::intValue).orElse(rank);
    }

    /** The alpha of the module named {@code moduleName}: its {@code alpha_pattern} value, else {@code lora_alpha}. */
    double alphaFor(String moduleName) {
        return alphaPattern.lookup(moduleName).orElse(alpha);
    }

    /** The scaling of the module named {@code moduleName}: {@code α/r}, or {@code α/√r} with rsLoRA. */
    float scalingFor(String moduleName) {
        int siteRank = rankFor(moduleName);
        double siteAlpha = alphaFor(moduleName);
        return (float) (useRslora ? siteAlpha / Math.sqrt(siteRank) : siteAlpha / siteRank);
    }

    private static ModulePatterns patterns(String option, Map<String, Double> values) {
        for (String key : values.keySet()) {
            try {
                ModulePatterns.compile(key);
            }
            catch (PatternSyntaxException e) {
                throw new InvalidOptionsException(format(
                        "Method '%s': option '%s' has key '%s', which is not a valid regular expression (%s). "
                                + "Keys are regular expressions matched against the end of module names, as in PEFT; fix or escape the key.",
                        METHOD_ID, option, key, e.getDescription()));
            }
        }
        return ModulePatterns.of(values);
    }

    private static InvalidOptionsException invalid(String option, Object value, String allowed) {
        return new InvalidOptionsException(format(
                "Method '%s': option '%s' is %s, but must be %s. Fix the value.", METHOD_ID, option, value, allowed));
    }
}
