package dev.graft.it.peft;

import static java.lang.String.format;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code adapter_config.json} exactly as Python PEFT 0.14.0 writes it: every field of the method's config dataclass,
 * plus those of {@code PeftConfig} and {@code PeftConfigMixin}, with the values {@code save_pretrained} gives them
 * ({@code inference_mode} true, {@code task_type} and {@code base_model_name_or_path} those of the {@link PeftBase}).
 *
 * <p>Sources read (huggingface/peft): {@code src/peft/config.py} ({@code PeftConfigMixin}: {@code task_type},
 * {@code peft_type}, {@code auto_mapping}; {@code PeftConfig}: {@code base_model_name_or_path}, {@code revision},
 * {@code inference_mode}), {@code src/peft/tuners/lora/config.py}, {@code tuners/vera/config.py},
 * {@code tuners/ia3/config.py} and {@code tuners/bone/config.py} as of 0.14. {@code LoraConfig.to_dict} drops
 * {@code runtime_config}. 0.14 writes no {@code peft_version}: that field arrived with PR #2782 (September 2025).
 * 0.14 added {@code exclude_modules} (PR #2102, to the configs with {@code target_modules}, VeRA not among them),
 * {@code eva_config} and {@code lora_bias} to LoRA, and Bone itself.
 *
 * <p>Prompt learning: {@code config.py PromptLearningConfig}, {@code tuners/prefix_tuning/config.py},
 * {@code tuners/prompt_tuning/config.py}, and the sizes from {@code utils/other.py _prepare_prompt_learning_config} and
 * {@code peft_model.py PeftModel._setup_prompt_encoder}. The field sets agree with the {@code adapter_config.json} of
 * published prefix- and prompt-tuning adapters. Later additions 0.14 does not write: {@code modules_to_save} on
 * prompt learning (PR #2646, July 2025) and prefix tuning's {@code init_weights} (not in the v0.15.0 reference, in
 * later ones).
 */
final class PeftConfigs {
    private PeftConfigs() {}

    /** A {@code LoraConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> lora(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("alpha_pattern", Map.of());
        defaults.put("bias", "none");
        defaults.put("eva_config", null);
        defaults.put("exclude_modules", null);
        defaults.put("fan_in_fan_out", false);
        defaults.put("init_lora_weights", true);
        defaults.put("layer_replication", null);
        defaults.put("layers_pattern", null);
        defaults.put("layers_to_transform", null);
        defaults.put("loftq_config", Map.of());
        defaults.put("lora_alpha", 8);
        defaults.put("lora_bias", false);
        defaults.put("lora_dropout", 0.0);
        defaults.put("megatron_config", null);
        defaults.put("megatron_core", "megatron.core");
        defaults.put("modules_to_save", null);
        defaults.put("r", 8);
        defaults.put("rank_pattern", Map.of());
        defaults.put("target_modules", null);
        defaults.put("use_dora", false);
        defaults.put("use_rslora", false);
        return config(base, "LORA", defaults, fields);
    }

    /** A {@code VeraConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> vera(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("bias", "none");
        defaults.put("d_initial", 0.1);
        defaults.put("fan_in_fan_out", false);
        defaults.put("init_weights", true);
        defaults.put("layers_pattern", null);
        defaults.put("layers_to_transform", null);
        defaults.put("modules_to_save", null);
        defaults.put("projection_prng_key", 0);
        defaults.put("r", 256);
        defaults.put("save_projection", true);
        defaults.put("target_modules", null);
        defaults.put("vera_dropout", 0.0);
        return config(base, "VERA", defaults, fields);
    }

    /** An {@code IA3Config}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> ia3(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("exclude_modules", null);
        defaults.put("fan_in_fan_out", false);
        defaults.put("feedforward_modules", null);
        defaults.put("init_ia3_weights", true);
        defaults.put("modules_to_save", null);
        defaults.put("target_modules", null);
        return config(base, "IA3", defaults, fields);
    }

    /** A {@code BoneConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> bone(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("bias", "none");
        defaults.put("exclude_modules", null);
        defaults.put("init_weights", true);
        defaults.put("layers_pattern", null);
        defaults.put("layers_to_transform", null);
        defaults.put("modules_to_save", null);
        defaults.put("r", 64);
        defaults.put("target_modules", null);
        return config(base, "BONE", defaults, fields);
    }

    /**
     * A {@code MissConfig} (PEFT 0.19 on, Bone's successor): its defaults with {@code fields} set. Bone's fields plus
     * {@code miss_dropout} and {@code mini_r}.
     */
    static Map<String, Object> miss(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("bias", "none");
        defaults.put("exclude_modules", null);
        defaults.put("init_weights", true);
        defaults.put("layers_pattern", null);
        defaults.put("layers_to_transform", null);
        defaults.put("mini_r", 1);
        defaults.put("miss_dropout", 0.0);
        defaults.put("modules_to_save", null);
        defaults.put("r", 64);
        defaults.put("target_modules", null);
        return config(base, "MISS", defaults, fields);
    }

    /**
     * A {@code PrefixTuningConfig} as {@code get_peft_model} leaves it: 0.14's fields ({@code PromptLearningConfig}'s
     * and {@code encoder_hidden_size}, {@code prefix_projection}; {@code init_weights} came after 0.15) with
     * {@code fields} set and the sizes filled from the model (see {@link #fillFromModel}).
     */
    static Map<String, Object> prefixTuning(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = promptLearningDefaults();
        defaults.put("encoder_hidden_size", null);
        defaults.put("prefix_projection", false);
        return config(base, "PREFIX_TUNING", defaults, fillFromModel(base, "PREFIX_TUNING", defaults, fields));
    }

    /**
     * A {@code PromptTuningConfig} as {@code get_peft_model} leaves it: 0.14's fields ({@code PromptLearningConfig}'s
     * and {@code prompt_tuning_init}, {@code prompt_tuning_init_text}, {@code tokenizer_name_or_path},
     * {@code tokenizer_kwargs}) with {@code fields} set and the sizes filled from the model (see {@link #fillFromModel}).
     */
    static Map<String, Object> promptTuning(PeftBase base, Map<String, Object> fields) {
        Map<String, Object> defaults = promptLearningDefaults();
        defaults.put("prompt_tuning_init", "RANDOM");
        defaults.put("prompt_tuning_init_text", null);
        defaults.put("tokenizer_kwargs", null);
        defaults.put("tokenizer_name_or_path", null);
        return config(base, "PROMPT_TUNING", defaults, fillFromModel(base, "PROMPT_TUNING", defaults, fields));
    }

    /** {@code PromptLearningConfig}'s fields in 0.14: {@code modules_to_save} came with PR #2646 (July 2025). */
    private static Map<String, Object> promptLearningDefaults() {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("num_attention_heads", null);
        defaults.put("num_layers", null);
        defaults.put("num_transformer_submodules", null);
        defaults.put("num_virtual_tokens", null);
        defaults.put("token_dim", null);
        return defaults;
    }

    /**
     * {@code fields} with the sizes PEFT fills in when it wraps the model: {@code utils.other._prepare_prompt_learning_config}
     * takes {@code num_layers}, {@code token_dim} and {@code num_attention_heads} from {@code num_hidden_layers},
     * {@code hidden_size} and {@code num_attention_heads}; for prefix tuning on a model with {@code num_key_value_heads}
     * (grouped-query attention, PEFT #1901) {@code token_dim} becomes {@code token_dim / num_attention_heads · kv heads}
     * and {@code num_attention_heads} the key/value heads; {@code encoder_hidden_size}, where the config has it, defaults
     * to {@code token_dim}. {@code PeftModel._setup_prompt_encoder} sets {@code num_transformer_submodules} to 1 (2 for
     * {@code SEQ_2_SEQ_LM}).
     */
    private static Map<String, Object> fillFromModel(PeftBase base, String peftType, Map<String, Object> defaults, Map<String, Object> fields) {
        if (!(fields.get("num_virtual_tokens") instanceof Integer)) {
            throw new IllegalArgumentException(format("PEFT's %s config needs num_virtual_tokens; the fields are %s", peftType, fields));
        }
        Map<String, Object> filled = new LinkedHashMap<>(fields);
        Map<String, Integer> model = base.modelConfig();
        int tokenDim = model.get("hidden_size");
        int heads = model.get("num_attention_heads");
        if (peftType.equals("PREFIX_TUNING") && model.containsKey("num_key_value_heads")) {
            tokenDim = tokenDim / heads * model.get("num_key_value_heads");
            heads = model.get("num_key_value_heads");
        }
        filled.putIfAbsent("num_layers", model.get("num_hidden_layers"));
        filled.putIfAbsent("token_dim", tokenDim);
        filled.putIfAbsent("num_attention_heads", heads);
        filled.putIfAbsent("num_transformer_submodules", base.taskType().equals("SEQ_2_SEQ_LM") ? 2 : 1);
        if (defaults.containsKey("encoder_hidden_size")) {
            filled.putIfAbsent("encoder_hidden_size", filled.get("token_dim"));
        }
        return filled;
    }

    private static Map<String, Object> config(PeftBase base, String peftType, Map<String, Object> defaults, Map<String, Object> fields) {
        TreeSet<String> unknown = new TreeSet<>(fields.keySet());
        unknown.removeAll(defaults.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(format("PEFT 0.14's %s config has no fields %s; its fields are %s", peftType, unknown, new TreeSet<>(defaults.keySet())));
        }
        Map<String, Object> config = new LinkedHashMap<>(defaults);
        config.putAll(fields);
        config.put("auto_mapping", null);
        config.put("base_model_name_or_path", base.nameOrPath());
        config.put("inference_mode", true);
        config.put("peft_type", peftType);
        config.put("revision", null);
        config.put("task_type", base.taskType());
        return config;
    }

    /** The {@code LoraConfig} fields of PEFT 0.14 that Graft's LoRA does not know (it warns about them and keeps them). */
    static List<String> loraFieldsGraftDoesNotKnow() {
        return List.of("eva_config", "layer_replication", "loftq_config", "megatron_config", "megatron_core");
    }
}
