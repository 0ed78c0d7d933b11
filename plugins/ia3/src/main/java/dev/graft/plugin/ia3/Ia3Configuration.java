package dev.graft.plugin.ia3;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * IA³'s validated options, with Hugging Face PEFT's {@code IA3Config} field names and defaults.
 *
 * @param feedforwardModules {@code feedforward_modules}: which targets scale their input
 * @param explicitFeedforwardModules whether {@code feedforward_modules} was given, rather than taken from
 *        PEFT's table for the model type; given entries must each match a target
 * @param initIa3Weights {@code init_ia3_weights}: ones (a no-op) when true, {@code N(0, 1)} when false
 */
public record Ia3Configuration(FeedForwardModules feedforwardModules, boolean explicitFeedforwardModules, boolean initIa3Weights) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "ia3";

    /** PEFT's default {@code target_modules} by model type ({@code TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING}). */
    public static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "llama", List.of("k_proj", "v_proj", "down_proj"),
            "mistral", List.of("k_proj", "v_proj", "down_proj"),
            "bert", List.of("key", "value", "output.dense"),
            "roberta", List.of("key", "value", "output.dense"));

    /** PEFT's default {@code feedforward_modules} by model type ({@code TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING}). */
    public static final Map<String, List<String>> DEFAULT_FEEDFORWARD_MODULES = Map.of(
            "llama", List.of("down_proj"),
            "mistral", List.of("down_proj"),
            "bert", List.of("output.dense"),
            "roberta", List.of("output.dense"));

    /** The option schema, with PEFT's defaults. */
    public static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.stringOrStringList("feedforward_modules", null,
                    "targets treated as feed-forward (their input is scaled, not their output): a list matches module names ending with an entry, "
                            + "a string is a regular expression matching the whole name; absent: PEFT's table for the model type (llama: down_proj, "
                            + "bert: output.dense)"),
            OptionSpec.bool("fan_in_fan_out", false, "whether the target stores its weight as (in, out), like GPT-2's Conv1D; only false is supported"),
            OptionSpec.bool("init_ia3_weights", true, "start the scaling vectors at 1 (a no-op); false draws them from N(0, 1)"));

    public Ia3Configuration {
        requireNonNull(feedforwardModules, "feedforwardModules is null");
    }

    /**
     * Reads validated options for a model of type {@code modelType}.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed, for
     *         {@code fan_in_fan_out: true}, or when {@code feedforward_modules} is absent and PEFT has no default for
     *         the model type
     */
    public static Ia3Configuration fromOptions(MethodOptions options, String modelType) {
        requireNonNull(options, "options is null");
        requireNonNull(modelType, "modelType is null");
        if (options.getBoolean("fan_in_fan_out")) {
            throw invalid("fan_in_fan_out", true, "false: Graft's linear sites store their weight as (out, in)");
        }
        boolean initIa3Weights = options.getBoolean("init_ia3_weights");
        if (options.has("feedforward_modules")) {
            Object value = options.get("feedforward_modules");
            if (value instanceof String) {
                try {
                    return new Ia3Configuration(FeedForwardModules.ofPattern((String) value), true, initIa3Weights);
                }
                catch (IllegalArgumentException e) {
                    throw invalid("feedforward_modules", "\"" + value + "\"", "a list of module names or a valid regular expression (" + e.getMessage() + ")");
                }
            }
            return new Ia3Configuration(FeedForwardModules.ofList(options.getStringList("feedforward_modules")), true, initIa3Weights);
        }
        List<String> defaults = DEFAULT_FEEDFORWARD_MODULES.get(modelType);
        if (defaults == null) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option 'feedforward_modules' has no default for model type '%s' (defaults exist for %s); give it explicitly, "
                            + "for example [\"down_proj\"], or [] for none.",
                    METHOD_ID, modelType, new TreeSet<>(DEFAULT_FEEDFORWARD_MODULES.keySet())));
        }
        return new Ia3Configuration(FeedForwardModules.ofList(defaults), false, initIa3Weights);
    }

    static InvalidOptionsException invalid(String key, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s.", METHOD_ID, key, value, allowed));
    }
}
