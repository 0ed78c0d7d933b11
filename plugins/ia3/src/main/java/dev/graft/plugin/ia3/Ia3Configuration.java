package dev.graft.plugin.ia3;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static dev.graft.spi.InvalidOptionsException.wrongTogether;

import dev.graft.spi.Option;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * IA³'s options, declared once with Hugging Face PEFT's {@code IA3Config} field names and defaults (the SPI checks
 * types).
 *
 * @param feedforwardModules {@code feedforward_modules}: a list of name suffixes, a regular expression, or
 *        {@code null} for PEFT's table for the model type; see {@link #feedForwardModules(String)}
 * @param fanInFanOut {@code fan_in_fan_out}: only false
 * @param initIa3Weights {@code init_ia3_weights}: ones (a no-op) when true, {@code N(0, 1)} when false
 */
public record Ia3Configuration(
        @Option(name = "feedforward_modules",
                description = "targets treated as feed-forward (their input is scaled, not their output): a list matches module names ending with an entry, "
                        + "a string is a regular expression matching the whole name; absent: PEFT's table for the model type (llama: down_proj, "
                        + "bert: output.dense)")
        Object feedforwardModules,
        @Option(name = "fan_in_fan_out", defaultValue = "false",
                description = "whether the target stores its weight as (in, out), like GPT-2's Conv1D; only false is supported")
        boolean fanInFanOut,
        @Option(name = "init_ia3_weights", defaultValue = "true", description = "start the scaling vectors at 1 (a no-op); false draws them from N(0, 1)")
        boolean initIa3Weights) {
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

    /**
     * Checks what the schema cannot.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code fan_in_fan_out: true} or a {@code feedforward_modules}
     *         string that is not a regular expression
     */
    public Ia3Configuration {
        if (fanInFanOut) {
            throw invalidValue(METHOD_ID, "fan_in_fan_out", true, "false: Graft's linear sites store their weight as (out, in)");
        }
        if (feedforwardModules instanceof String) {
            try {
                FeedForwardModules.ofPattern((String) feedforwardModules);
            }
            catch (IllegalArgumentException e) {
                throw invalidValue(METHOD_ID, "feedforward_modules", feedforwardModules,
                        "a list of module names or a valid regular expression (" + e.getMessage() + ")");
            }
        }
    }

    /** Whether {@code feedforward_modules} was given, rather than taken from PEFT's table; given entries must each match a target. */
    public boolean explicitFeedforwardModules() {
        return feedforwardModules != null;
    }

    /**
     * The feed-forward modules for a model of type {@code modelType}: the given ones, else PEFT's default for the type.
     *
     * @throws dev.graft.spi.InvalidOptionsException when {@code feedforward_modules} is absent and PEFT has no default
     *         for the model type
     */
    @SuppressWarnings("unchecked")
    public FeedForwardModules feedForwardModules(String modelType) {
        if (feedforwardModules instanceof String) {
            return FeedForwardModules.ofPattern((String) feedforwardModules);
        }
        if (feedforwardModules != null) {
            return FeedForwardModules.ofList((List<String>) feedforwardModules);
        }
        List<String> defaults = DEFAULT_FEEDFORWARD_MODULES.get(modelType);
        if (defaults == null) {
            throw wrongTogether(METHOD_ID, "option 'feedforward_modules' has no default for model type '%s' (defaults exist for %s); give it explicitly, "
                    + "for example [\"down_proj\"], or [] for none.", modelType, new TreeSet<>(DEFAULT_FEEDFORWARD_MODULES.keySet()));
        }
        return FeedForwardModules.ofList(defaults);
    }
}
