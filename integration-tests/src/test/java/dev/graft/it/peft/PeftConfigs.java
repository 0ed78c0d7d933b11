package dev.graft.it.peft;

import static java.lang.String.format;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code adapter_config.json} exactly as Python PEFT 0.14.0 writes it: every field of the method's config dataclass,
 * plus those of {@code PeftConfig} and {@code PeftConfigMixin}, with the values {@code save_pretrained} gives them
 * ({@code inference_mode} true, {@code task_type} {@code CAUSAL_LM} for a causal LM).
 *
 * <p>Sources read (huggingface/peft): {@code src/peft/config.py} ({@code PeftConfigMixin}: {@code task_type},
 * {@code peft_type}, {@code auto_mapping}; {@code PeftConfig}: {@code base_model_name_or_path}, {@code revision},
 * {@code inference_mode}), {@code src/peft/tuners/lora/config.py}, {@code tuners/vera/config.py},
 * {@code tuners/ia3/config.py} and {@code tuners/bone/config.py} as of 0.14. {@code LoraConfig.to_dict} drops
 * {@code runtime_config}. 0.14 writes no {@code peft_version}: that field arrived with PR #2782 (September 2025).
 * 0.14 added {@code exclude_modules} (PR #2102, to the configs with {@code target_modules}, VeRA not among them),
 * {@code eva_config} and {@code lora_bias} to LoRA, and Bone itself.
 */
final class PeftConfigs {
    /** What {@code base_model_name_or_path} says in the test adapters. */
    static final String BASE_MODEL = "graft-tests/tiny-llama";

    private PeftConfigs() {}

    /** A {@code LoraConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> lora(Map<String, Object> fields) {
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
        return config("LORA", defaults, fields);
    }

    /** A {@code VeraConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> vera(Map<String, Object> fields) {
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
        return config("VERA", defaults, fields);
    }

    /** An {@code IA3Config}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> ia3(Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("exclude_modules", null);
        defaults.put("fan_in_fan_out", false);
        defaults.put("feedforward_modules", null);
        defaults.put("init_ia3_weights", true);
        defaults.put("modules_to_save", null);
        defaults.put("target_modules", null);
        return config("IA3", defaults, fields);
    }

    /** A {@code BoneConfig}: PEFT 0.14's defaults with {@code fields} set. */
    static Map<String, Object> bone(Map<String, Object> fields) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put("bias", "none");
        defaults.put("exclude_modules", null);
        defaults.put("init_weights", true);
        defaults.put("layers_pattern", null);
        defaults.put("layers_to_transform", null);
        defaults.put("modules_to_save", null);
        defaults.put("r", 64);
        defaults.put("target_modules", null);
        return config("BONE", defaults, fields);
    }

    private static Map<String, Object> config(String peftType, Map<String, Object> defaults, Map<String, Object> fields) {
        TreeSet<String> unknown = new TreeSet<>(fields.keySet());
        unknown.removeAll(defaults.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(format("PEFT 0.14's %s config has no fields %s; its fields are %s", peftType, unknown, new TreeSet<>(defaults.keySet())));
        }
        Map<String, Object> config = new LinkedHashMap<>(defaults);
        config.putAll(fields);
        config.put("auto_mapping", null);
        config.put("base_model_name_or_path", BASE_MODEL);
        config.put("inference_mode", true);
        config.put("peft_type", peftType);
        config.put("revision", null);
        config.put("task_type", "CAUSAL_LM");
        return config;
    }

    /** The {@code LoraConfig} fields of PEFT 0.14 that Graft's LoRA does not know (it warns about them and keeps them). */
    static List<String> loraFieldsGraftDoesNotKnow() {
        return List.of("eva_config", "layer_replication", "loftq_config", "megatron_config", "megatron_core");
    }
}
