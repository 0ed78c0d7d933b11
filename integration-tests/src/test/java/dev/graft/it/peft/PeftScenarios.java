package dev.graft.it.peft;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The adapters of issue 5 on {@link TinyLlama}, each as the folder Python PEFT 0.14 saves (every config field, known
 * random tensors under hand-listed keys) and the hand merge that says what PEFT computes with it; and the builders of
 * such folders for any {@link PeftBase}. Target lists are written unordered, as PEFT saves its target sets.
 */
final class PeftScenarios {
    static final String LORA_A = "lora_A.weight";
    static final String LORA_B = "lora_B.weight";
    static final String LAMBDA_B = "vera_lambda_b";
    static final String LAMBDA_D = "vera_lambda_d";
    static final String IA3_L = "ia3_l";
    static final String BONE_BLOCK = "bone_block";
    static final String MISS_BLOCK = "miss_block";
    /** VeRA's rank in {@link #veraWithProjections()}. */
    static final int VERA_RANK = 16;

    private PeftScenarios() {}

    /** LoRA on PEFT's default Llama targets, {@code s = 16/8}, with dropout that only training sees. */
    static PeftScenario loraPlain() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 8);
        fields.put("lora_alpha", 16);
        fields.put("lora_dropout", 0.05);
        fields.put("target_modules", List.of("v_proj", "q_proj"));
        return lora(TinyLlama.BASE, "lora-plain", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj"));
    }

    /** rsLoRA on every projection but {@code lm_head}, {@code s = 8/√4 = 4}. */
    static PeftScenario loraRankStabilized() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 4);
        fields.put("lora_alpha", 8);
        fields.put("use_rslora", true);
        fields.put("target_modules", List.of("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"));
        return lora(TinyLlama.BASE, "lora-rslora", fields, PeftKeys.inEveryLayer(2,
                "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"));
    }

    /**
     * LoRA with ranks and alphas per module, resolved by PEFT 0.14's rule (see {@link #patternValue}). The keys cover
     * each way a key can apply: a suffix ({@code v_proj}, {@code q_proj}); two keys matching one module, the first in
     * the file winning ({@code layers.1.self_attn.q_proj} before {@code q_proj}: PEFT writes the config with
     * {@code sort_keys=True}, so file order is sorted order, and the patterns are given sorted here as Graft's recipe
     * too); a full module name, which the suffix regex cannot match, found by PEFT's fallback, the exact-name lookup
     * ({@code model.layers.0.mlp.down_proj}); and {@code proj}, which matches nothing (a suffix starts after a dot).
     */
    static PeftScenario loraPatterns() {
        Map<String, Object> rankPattern = new TreeMap<>();
        rankPattern.put("layers.1.self_attn.q_proj", 6);
        rankPattern.put("model.layers.0.mlp.down_proj", 5);
        rankPattern.put("proj", 3);
        rankPattern.put("q_proj", 4);
        rankPattern.put("v_proj", 2);
        Map<String, Object> alphaPattern = new TreeMap<>();
        alphaPattern.put("layers.0.mlp.down_proj", 2);
        alphaPattern.put("q_proj", 24);
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 8);
        fields.put("lora_alpha", 8);
        fields.put("target_modules", List.of("q_proj", "down_proj", "v_proj"));
        fields.put("rank_pattern", rankPattern);
        fields.put("alpha_pattern", alphaPattern);
        return lora(TinyLlama.BASE, "lora-patterns", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"));
    }

    /**
     * VeRA with {@code save_projection: true} on targets of both widths, so every module reads its own slice
     * {@code vera_A[:, :in]}, {@code vera_B[:out, :]} of projections sized to the largest target.
     */
    static PeftScenario veraWithProjections() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", VERA_RANK);
        fields.put("projection_prng_key", 0);
        fields.put("save_projection", true);
        fields.put("target_modules", List.of("up_proj", "v_proj", "down_proj", "q_proj"));
        return vera(TinyLlama.BASE, "vera-save-projection", fields,
                PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj", "mlp.up_proj", "mlp.down_proj"));
    }

    /** IA³ on PEFT's Llama defaults: {@code k_proj} and {@code v_proj} ({@code (out, 1)}), {@code down_proj} feed-forward ({@code (1, in)}). */
    static PeftScenario ia3LlamaDefaults() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("target_modules", List.of("down_proj", "v_proj", "k_proj"));
        fields.put("feedforward_modules", List.of("down_proj"));
        return ia3(TinyLlama.BASE, "ia3-llama-defaults", fields,
                PeftKeys.inEveryLayer(2, "self_attn.k_proj", "self_attn.v_proj"), PeftKeys.inEveryLayer(2, "mlp.down_proj"));
    }

    /**
     * Bone ({@code init_weights: true}) with {@code r = 24}: {@code in} = 64 and 128 are not multiples of 24, so the
     * last column block of every target is partial.
     */
    static PeftScenario boneWithPartialBlocks() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 24);
        fields.put("target_modules", List.of("q_proj", "down_proj", "v_proj"));
        return bone(TinyLlama.BASE, "bone-default", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"));
    }

    /** Bone with {@code init_weights: "bat"}, {@code r = 16}: {@code bone_block (out/16, 16, 16)}. */
    static PeftScenario boneBlockAffine() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 16);
        fields.put("init_weights", "bat");
        fields.put("target_modules", List.of("k_proj", "q_proj", "down_proj"));
        return bone(TinyLlama.BASE, "bone-bat", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj"));
    }

    /** MiSS's default ({@code init_weights: true}) with {@code r = 24}: Bone's math under {@code miss_block}, partial last column blocks. */
    static PeftScenario missWithPartialBlocks() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 24);
        fields.put("target_modules", List.of("q_proj", "down_proj", "v_proj"));
        return miss(TinyLlama.BASE, "miss-default", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"));
    }

    /** MiSS's bat ({@code init_weights: "bat"}), {@code r = 16}: {@code miss_block (out/16, 16, 16)}. */
    static PeftScenario missBlockAffine() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 16);
        fields.put("init_weights", "bat");
        fields.put("target_modules", List.of("k_proj", "q_proj", "down_proj"));
        return miss(TinyLlama.BASE, "miss-bat", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj"));
    }

    /** MiSS's mini ({@code init_weights: "mini"}), {@code r = 24}, {@code mini_r = 16}: {@code miss_block (24, 16)}, partial last column blocks. */
    static PeftScenario missMini() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("r", 24);
        fields.put("init_weights", "mini");
        fields.put("mini_r", 16);
        fields.put("target_modules", List.of("q_proj", "down_proj", "v_proj"));
        return miss(TinyLlama.BASE, "miss-mini", fields, PeftKeys.inEveryLayer(2, "self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"));
    }

    /** The PEFT folder for LoRA {@code fields} on {@code modules} of {@code base}: per module {@code lora_A (r, in)} and {@code lora_B (out, r)}. */
    static PeftScenario lora(PeftBase base, String name, Map<String, Object> fields, List<String> modules) {
        Random random = new Random(name.hashCode());
        Map<String, PlainTensor> tensors = new LinkedHashMap<>();
        for (String module : modules) {
            int rank = (int) patternValue(fields, "rank_pattern", "r", module);
            tensors.put(PeftKeys.of(module, LORA_A), PlainTensor.gaussian(random, 0, 0.05, rank, base.inFeatures(module)));
            tensors.put(PeftKeys.of(module, LORA_B), PlainTensor.gaussian(random, 0, 0.05, base.outFeatures(module), rank));
        }
        PeftAdapter peft = new PeftAdapter(PeftConfigs.lora(base, fields), tensors);
        return new PeftScenario(name, fields, peft, PeftEffect.merged(merge -> {
            for (String module : modules) {
                double rank = patternValue(fields, "rank_pattern", "r", module);
                double alpha = patternValue(fields, "alpha_pattern", "lora_alpha", module);
                double scaling = Boolean.TRUE.equals(fields.get("use_rslora")) ? alpha / Math.sqrt(rank) : alpha / rank;
                merge.lowRank(module, peft.tensor(PeftKeys.of(module, LORA_A)), peft.tensor(PeftKeys.of(module, LORA_B)), scaling);
            }
        }), PeftConfigs.loraFieldsGraftDoesNotKnow());
    }

    /**
     * The PEFT folder for VeRA {@code fields} on {@code modules} of {@code base}: the shared projections sized to the
     * largest target, drawn as PEFT's {@code _kaiming_init} draws them (U(±√(6/fan_in)), fan_in the second dimension),
     * and per module {@code vera_lambda_b (out)} and {@code vera_lambda_d (r)}.
     */
    static PeftScenario vera(PeftBase base, String name, Map<String, Object> fields, List<String> modules) {
        int rank = (int) fields.get("r");
        int largestIn = modules.stream().mapToInt(base::inFeatures).max().orElseThrow();
        int largestOut = modules.stream().mapToInt(base::outFeatures).max().orElseThrow();
        Random random = new Random(name.hashCode());
        Map<String, PlainTensor> tensors = new LinkedHashMap<>();
        tensors.put(PeftKeys.VERA_A, PlainTensor.uniform(random, Math.sqrt(6.0 / largestIn), rank, largestIn));
        tensors.put(PeftKeys.VERA_B, PlainTensor.uniform(random, Math.sqrt(6.0 / rank), largestOut, rank));
        for (String module : modules) {
            tensors.put(PeftKeys.of(module, LAMBDA_B), PlainTensor.gaussian(random, 0, 1, base.outFeatures(module)));
            tensors.put(PeftKeys.of(module, LAMBDA_D), PlainTensor.gaussian(random, 0.1, 0.1, rank));
        }
        PeftAdapter peft = new PeftAdapter(PeftConfigs.vera(base, fields), tensors);
        return new PeftScenario(name, fields, peft, PeftEffect.merged(merge -> {
            for (String module : modules) {
                merge.vera(module, peft.tensor(PeftKeys.VERA_A), peft.tensor(PeftKeys.VERA_B),
                        peft.tensor(PeftKeys.of(module, LAMBDA_B)), peft.tensor(PeftKeys.of(module, LAMBDA_D)));
            }
        }), List.of());
    }

    /**
     * The PEFT folder for IA³ {@code fields} of {@code base}: {@code ia3_l (out, 1)} on the modules whose output PEFT
     * scales, {@code (1, in)} on the feed-forward ones, whose input it scales.
     */
    static PeftScenario ia3(PeftBase base, String name, Map<String, Object> fields, List<String> outputScaled, List<String> inputScaled) {
        Random random = new Random(name.hashCode());
        Map<String, PlainTensor> tensors = new LinkedHashMap<>();
        for (String module : outputScaled) {
            tensors.put(PeftKeys.of(module, IA3_L), PlainTensor.gaussian(random, 1, 0.3, base.outFeatures(module), 1));
        }
        for (String module : inputScaled) {
            tensors.put(PeftKeys.of(module, IA3_L), PlainTensor.gaussian(random, 1, 0.3, 1, base.inFeatures(module)));
        }
        PeftAdapter peft = new PeftAdapter(PeftConfigs.ia3(base, fields), tensors);
        return new PeftScenario(name, fields, peft, PeftEffect.merged(merge -> {
            outputScaled.forEach(module -> merge.scaleOutput(module, peft.tensor(PeftKeys.of(module, IA3_L))));
            inputScaled.forEach(module -> merge.scaleInput(module, peft.tensor(PeftKeys.of(module, IA3_L))));
        }), List.of());
    }

    /**
     * The PEFT folder for Bone {@code fields} ({@code r}, and {@code init_weights}) on {@code modules} of {@code base}:
     * per module {@code bone_block (r, out)}, or {@code (out/r, r, r)} with {@code init_weights: "bat"}.
     */
    static PeftScenario bone(PeftBase base, String name, Map<String, Object> fields, List<String> modules) {
        int rank = (int) fields.get("r");
        boolean blockAffine = "bat".equals(fields.get("init_weights"));
        Random random = new Random(name.hashCode());
        Map<String, PlainTensor> tensors = new LinkedHashMap<>();
        for (String module : modules) {
            int out = base.outFeatures(module);
            tensors.put(PeftKeys.of(module, BONE_BLOCK), blockAffine
                    ? PlainTensor.gaussian(random, 0, 0.05, out / rank, rank, rank)
                    : PlainTensor.gaussian(random, 0, 0.03, rank, out));
        }
        PeftAdapter peft = new PeftAdapter(PeftConfigs.bone(base, fields), tensors);
        return new PeftScenario(name, fields, peft, PeftEffect.merged(merge -> {
            for (String module : modules) {
                PlainTensor block = peft.tensor(PeftKeys.of(module, BONE_BLOCK));
                if (blockAffine) {
                    merge.blockAffine(module, block);
                }
                else {
                    merge.boneBlocks(module, block);
                }
            }
        }), List.of());
    }

    /**
     * The PEFT folder for MiSS {@code fields} ({@code r}, {@code init_weights}, {@code mini_r}) on {@code modules} of
     * {@code base}: per module {@code miss_block (r, out)}, {@code (out/r, r, r)} with {@code "bat"} or
     * {@code (r, mini_r)} with {@code "mini"}.
     */
    static PeftScenario miss(PeftBase base, String name, Map<String, Object> fields, List<String> modules) {
        int rank = (int) fields.get("r");
        Object variant = fields.getOrDefault("init_weights", true);
        int miniRank = (int) fields.getOrDefault("mini_r", 1);
        Random random = new Random(name.hashCode());
        Map<String, PlainTensor> tensors = new LinkedHashMap<>();
        for (String module : modules) {
            int out = base.outFeatures(module);
            PlainTensor block;
            if ("bat".equals(variant)) {
                block = PlainTensor.gaussian(random, 0, 0.05, out / rank, rank, rank);
            }
            else if ("mini".equals(variant)) {
                block = PlainTensor.gaussian(random, 0, 0.03, rank, miniRank);
            }
            else {
                block = PlainTensor.gaussian(random, 0, 0.03, rank, out);
            }
            tensors.put(PeftKeys.of(module, MISS_BLOCK), block);
        }
        PeftAdapter peft = new PeftAdapter(PeftConfigs.miss(base, fields), tensors);
        return new PeftScenario(name, fields, peft, PeftEffect.merged(merge -> {
            for (String module : modules) {
                PlainTensor block = peft.tensor(PeftKeys.of(module, MISS_BLOCK));
                if ("bat".equals(variant)) {
                    merge.blockAffine(module, block);
                }
                else if ("mini".equals(variant)) {
                    merge.miniBlocks(module, block, rank);
                }
                else {
                    merge.boneBlocks(module, block);
                }
            }
        }), List.of());
    }

    /**
     * PEFT 0.14's per-module value ({@code LoraModel._create_and_replace} with {@code utils.other.get_pattern_key}):
     * the first pattern key {@code k}, in the order of the loaded config, for which {@code re.match(rf".*\.{k}$", module)}
     * succeeds, else the module name itself; that key's value in the pattern, else the config's value ({@code fields},
     * else PEFT's default).
     */
    private static double patternValue(Map<String, Object> fields, String patternField, String defaultField, String module) {
        @SuppressWarnings("unchecked")
        Map<String, Object> pattern = (Map<String, Object>) fields.getOrDefault(patternField, Map.of());
        String key = pattern.keySet().stream()
                .filter(candidate -> Pattern.compile(".*\\." + candidate + "$").matcher(module).lookingAt())
                .findFirst()
                .orElse(module);
        Object value = pattern.containsKey(key) ? pattern.get(key) : fields.getOrDefault(defaultField, PeftConfigs.lora(TinyLlama.BASE, Map.of()).get(defaultField));
        return ((Number) value).doubleValue();
    }
}
