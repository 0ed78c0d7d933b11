package dev.graft.runtime.store;

import static java.lang.String.format;

import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What Hugging Face PEFT's config dataclasses hold, for the store's two directions.
 *
 * <p>Writing: {@link #writes} leaves out a field that PEFT 0.14.0's dataclass for the {@code peft_type} lacks while
 * the field holds its neutral value (null, false, empty, or the option's default), so PEFT 0.14 reads a Graft file
 * without warning that it came from a newer version. The field sets are those of PEFT v0.14.0
 * ({@code src/peft/config.py} {@code PeftConfigMixin}, {@code PeftConfig}, {@code PromptLearningConfig};
 * {@code tuners/lora/config.py}, {@code tuners/vera/config.py}, {@code tuners/ia3/config.py},
 * {@code tuners/bone/config.py}, {@code tuners/prefix_tuning/config.py}, {@code tuners/prompt_tuning/config.py}):
 * VeRA has no {@code exclude_modules}, IA³ no {@code layers_to_transform} or {@code layers_pattern}, Bone no dropout,
 * and prompt learning no {@code modules_to_save} (PR #2646, 2025) and no targeting fields. Methods PEFT does not have
 * are written in full.
 *
 * <p>Reading: {@link #refusal} checks the fields that PEFT releases after 0.14 write (from PEFT 0.21's
 * {@code LoraConfig} and {@code PeftConfigMixin}) when the method does not declare them: at their neutral value they
 * load (with the store's one line naming ignored fields), otherwise the adapter is refused with one line naming the
 * field, its value, and what Graft would need.
 */
final class PeftConfigFields {
    private static final Set<String> COMMON_0_14 = Set.of("peft_type", "task_type", "auto_mapping", "base_model_name_or_path", "revision", "inference_mode");
    private static final Set<String> PROMPT_LEARNING_0_14 = Set.of("num_virtual_tokens", "token_dim", "num_transformer_submodules", "num_attention_heads", "num_layers");
    private static final Map<String, Set<String>> FIELDS_0_14 = Map.of(
            "LORA", Set.of("r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out", "bias", "use_rslora", "modules_to_save",
                    "init_lora_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern", "megatron_config", "megatron_core",
                    "loftq_config", "eva_config", "use_dora", "layer_replication", "lora_bias"),
            "VERA", Set.of("r", "target_modules", "projection_prng_key", "save_projection", "vera_dropout", "d_initial", "fan_in_fan_out", "bias",
                    "modules_to_save", "init_weights", "layers_to_transform", "layers_pattern"),
            "IA3", Set.of("target_modules", "exclude_modules", "feedforward_modules", "fan_in_fan_out", "modules_to_save", "init_ia3_weights"),
            "BONE", Set.of("r", "target_modules", "exclude_modules", "init_weights", "layers_to_transform", "layers_pattern", "bias", "modules_to_save"),
            "PREFIX_TUNING", union(PROMPT_LEARNING_0_14, Set.of("encoder_hidden_size", "prefix_projection")),
            "PROMPT_TUNING", union(PROMPT_LEARNING_0_14, Set.of("prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs")));

    private static final Predicate<Object> ANY = value -> true;
    private static final Predicate<Object> UNSET = PeftConfigFields::isUnset;
    private static final Predicate<Object> UNSET_OR_FALSE = value -> isUnset(value) || Boolean.FALSE.equals(value);

    /** PEFT's fields Graft's runtime can take at their neutral value, by name: when a value loads, and what Graft would need otherwise. */
    private static final Map<String, NewerField> NEWER_FIELDS = Map.ofEntries(
            field("use_dora", UNSET_OR_FALSE, "DoRA (weight-decomposed LoRA with lora_magnitude_vector tensors) in the method's plugin"),
            field("lora_bias", UNSET_OR_FALSE, "a trainable bias on lora_B (lora_B.bias tensors) in the method's plugin"),
            field("target_parameters", UNSET, "adapters on bare parameters rather than modules (such as mixture-of-experts weights)"),
            field("layer_replication", UNSET, "the base model's layers duplicated as the ranges say before the adapter attaches"),
            field("trainable_token_indices", UNSET, "trainable rows of the embedding matrix (PEFT's trainable tokens)"),
            field("alora_invocation_tokens", UNSET, "activated LoRA, which applies only after the invocation tokens of each sequence"),
            field("use_qalora", UNSET_OR_FALSE, "QA-LoRA, which pools the adapter's input in groups for a quantized base"),
            field("use_bdlora", UNSET_OR_FALSE, "block-diagonal LoRA (BD-LoRA)"),
            field("arrow_config", UNSET, "Arrow routing among several LoRA experts"),
            field("megatron_config", UNSET, "Megatron-LM's tensor-parallel linear layers"),
            field("velora_config", UNSET, "VeLoRA"),
            field("monteclora_config", UNSET, "MonteCLoRA's sampled mixture of low-rank adapters"),
            field("kasa_config", UNSET, "KaSA's singular-value adaptation"),
            // Used only while PEFT initialises an adapter or to build the layers named above: any value loads.
            field("qalora_group_size", ANY, ""),
            field("megatron_core", ANY, ""),
            field("eva_config", ANY, ""),
            field("corda_config", ANY, ""),
            field("lora_ga_config", ANY, ""),
            field("loftq_config", ANY, ""),
            field("runtime_config", ANY, ""),
            field("ensure_weight_tying", ANY, ""));

    private PeftConfigFields() {}

    /**
     * Whether the store writes {@code field} with {@code value} into a config of {@code peftType}: always, unless PEFT
     * 0.14's dataclass for {@code peftType} lacks the field and the value is neutral (unset, false, empty, or
     * {@code optionDefault}).
     */
    static boolean writes(String peftType, String field, Object value, Optional<Object> optionDefault) {
        Set<String> fields = FIELDS_0_14.get(peftType);
        if (fields == null || COMMON_0_14.contains(field) || fields.contains(field)) {
            return true;
        }
        boolean neutral = isUnset(value) || Boolean.FALSE.equals(value) || optionDefault.map(defaultValue -> sameValue(defaultValue, value)).orElse(false);
        return !neutral;
    }

    /**
     * Why a field the method does not declare cannot load with {@code value}, as one sentence naming the field, the value
     * and what Graft would need; empty when it loads (its value is neutral, or Graft does not know the field at all).
     */
    static Optional<String> refusal(String methodId, String field, Object value) {
        NewerField newer = NEWER_FIELDS.get(field);
        if (newer == null || newer.loads().test(value)) {
            return Optional.empty();
        }
        return Optional.of(format("field %s is %s, which Graft's '%s' method does not implement: Graft would need %s; "
                + "only the neutral value (%s) loads", field, describe(value), methodId, newer.needs(), newer.loads() == UNSET ? "null or empty" : "null or false"));
    }

    private static boolean isUnset(Object value) {
        return value == null
                || value instanceof Collection<?> collection && collection.isEmpty()
                || value instanceof Map<?, ?> map && map.isEmpty();
    }

    private static boolean sameValue(Object expected, Object value) {
        if (expected instanceof Number expectedNumber && value instanceof Number number) {
            return expectedNumber.doubleValue() == number.doubleValue();
        }
        return Objects.equals(expected, value);
    }

    private static String describe(Object value) {
        return value instanceof String ? format("\"%s\"", value) : String.valueOf(value);
    }

    private static Set<String> union(Set<String> first, Set<String> second) {
        return Set.copyOf(Stream.concat(first.stream(), second.stream()).toList());
    }

    private static Map.Entry<String, NewerField> field(String name, Predicate<Object> loads, String needs) {
        return Map.entry(name, new NewerField(loads, needs));
    }

    /**
     * A PEFT config field Graft's runtime knows by name.
     *
     * @param loads which values load (the neutral ones)
     * @param needs what Graft would need for the others
     */
    private record NewerField(Predicate<Object> loads, String needs) {}
}
