package dev.graft.it.peft;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adapters of issue 5 on {@link TinyBert}, as Python PEFT 0.14 saves them for a bare {@code BertModel} wrapped for
 * {@code FEATURE_EXTRACTION}; each built by the shared builders of {@link PeftScenarios} and
 * {@link PromptLearningScenarios}. Targets are those PEFT's tables give BERT ({@code utils/constants.py}) where they
 * exist.
 */
final class BertScenarios {
    private BertScenarios() {}

    /** LoRA on PEFT's BERT defaults, {@code query} and {@code value}, {@code s = 16/8}. */
    static PeftScenario loraQueryValue() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 8);
        fields.put("lora_alpha", 16);
        fields.put("target_modules", List.of("value", "query"));
        return PeftScenarios.lora(TinyBert.BASE, "bert-lora", fields, PeftKeys.inEveryEncoderLayer(2, "attention.self.query", "attention.self.value"));
    }

    /**
     * IA³ on PEFT's BERT defaults: targets {@code key, value, output.dense}, feed-forward {@code output.dense}. A target
     * entry matches a module whose name ends with {@code "." + entry}, so {@code output.dense} targets both
     * {@code attention.output.dense} and the layer's {@code output.dense}; and {@code _check_target_module_feedforward}
     * tests a plain {@code key.endswith(entry)}, so both are feed-forward: their input is scaled, {@code ia3_l (1, in)},
     * 64 wide for the attention output and 128 for the layer output. {@code key} and {@code value} scale their output
     * and bias, {@code (out, 1)}.
     */
    static PeftScenario ia3BertDefaults() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("target_modules", List.of("output.dense", "value", "key"));
        fields.put("feedforward_modules", List.of("output.dense"));
        return PeftScenarios.ia3(TinyBert.BASE, "bert-ia3", fields,
                PeftKeys.inEveryEncoderLayer(2, "attention.self.key", "attention.self.value"),
                PeftKeys.inEveryEncoderLayer(2, "attention.output.dense", "output.dense"));
    }

    /**
     * VeRA on {@code query}, {@code value} and {@code intermediate.dense}, as PEFT's VeRA notebook targets RoBERTa:
     * the shared projections are {@code vera_A (16, 64)} and {@code vera_B (128, 16)}, {@code query} and {@code value}
     * reading {@code vera_B[:64, :]}.
     */
    static PeftScenario veraWithProjections() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 16);
        fields.put("projection_prng_key", 0);
        fields.put("save_projection", true);
        fields.put("target_modules", List.of("intermediate.dense", "query", "value"));
        return PeftScenarios.vera(TinyBert.BASE, "bert-vera", fields,
                PeftKeys.inEveryEncoderLayer(2, "attention.self.query", "attention.self.value", "intermediate.dense"));
    }

    /**
     * Bone ({@code init_weights: true}) with {@code r = 24} on {@code query}, {@code value} and {@code output.dense}
     * (both of them, by the suffix rule): {@code in} = 64 and 128 are not multiples of 24, so every last column block is
     * partial; the biases stay.
     */
    static PeftScenario boneWithPartialBlocks() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 24);
        fields.put("target_modules", List.of("output.dense", "query", "value"));
        return PeftScenarios.bone(TinyBert.BASE, "bert-bone", fields,
                PeftKeys.inEveryEncoderLayer(2, "attention.self.query", "attention.self.value", "attention.output.dense", "output.dense"));
    }

    /**
     * Prefix tuning with 3 virtual tokens: BERT has no {@code num_key_value_heads}, so {@code token_dim} is the hidden
     * size 64 and {@code num_attention_heads} 4, and {@code prompt_embeddings} is {@code (3, 2·2·64)}.
     */
    static PeftScenario prefixTuning() {
        return PromptLearningScenarios.prefixTuning(TinyBert.BASE, 3);
    }

    /** Prompt tuning with 3 virtual tokens of width 64. */
    static PeftScenario promptTuning() {
        return PromptLearningScenarios.promptTuning(TinyBert.BASE, 3);
    }
}
