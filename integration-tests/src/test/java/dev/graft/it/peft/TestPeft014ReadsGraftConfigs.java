package dev.graft.it.peft;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.targeting.TargetRules;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 11, item 6: every key Graft writes into {@code adapter_config.json} for a method PEFT 0.14 has is a field of
 * PEFT 0.14.0's config dataclass for that {@code peft_type}, so PEFT 0.14 reads Graft's files without warning that they
 * came from a newer version (it warns about, and drops, keys its dataclass lacks).
 *
 * <p>{@link #PEFT_0_14_FIELDS} is that data, from PEFT v0.14.0's sources: {@code src/peft/config.py}
 * ({@code PeftConfigMixin}: {@code peft_type}, {@code task_type}, {@code auto_mapping}; {@code PeftConfig}:
 * {@code base_model_name_or_path}, {@code revision}, {@code inference_mode}; {@code PromptLearningConfig}:
 * {@code num_virtual_tokens}, {@code token_dim}, {@code num_transformer_submodules}, {@code num_attention_heads},
 * {@code num_layers}, and no {@code modules_to_save}, which PR #2646 added in 2025), {@code tuners/lora/config.py},
 * {@code tuners/vera/config.py} (no {@code exclude_modules}, in 0.14 or since), {@code tuners/ia3/config.py} (no
 * {@code layers_to_transform} or {@code layers_pattern}), {@code tuners/bone/config.py} (no dropout),
 * {@code tuners/prefix_tuning/config.py} and {@code tuners/prompt_tuning/config.py}; the same sets {@link PeftConfigs}
 * writes PEFT 0.14's own folders with.
 */
final class TestPeft014ReadsGraftConfigs {
    private static final Set<String> PEFT_CONFIG = Set.of("peft_type", "task_type", "auto_mapping", "base_model_name_or_path", "revision", "inference_mode");
    private static final Set<String> PROMPT_LEARNING = Set.of("num_virtual_tokens", "token_dim", "num_transformer_submodules", "num_attention_heads", "num_layers");
    static final Map<String, Set<String>> PEFT_0_14_FIELDS = Map.of(
            "LORA", Set.of("r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out", "bias", "use_rslora", "modules_to_save",
                    "init_lora_weights", "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern", "megatron_config", "megatron_core",
                    "loftq_config", "eva_config", "use_dora", "layer_replication", "lora_bias"),
            "VERA", Set.of("r", "target_modules", "projection_prng_key", "save_projection", "vera_dropout", "d_initial", "fan_in_fan_out", "bias",
                    "modules_to_save", "init_weights", "layers_to_transform", "layers_pattern"),
            "IA3", Set.of("target_modules", "exclude_modules", "feedforward_modules", "fan_in_fan_out", "modules_to_save", "init_ia3_weights"),
            "BONE", Set.of("r", "target_modules", "exclude_modules", "init_weights", "layers_to_transform", "layers_pattern", "bias", "modules_to_save"),
            "PREFIX_TUNING", Set.of("encoder_hidden_size", "prefix_projection"),
            "PROMPT_TUNING", Set.of("prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs"));
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path scratch;

    /** The interoperability scenarios of methods PEFT 0.14 has (MiSS came in PEFT 0.18: 0.14 cannot read it at all). */
    static Stream<Arguments> scenarios() {
        return TestPeftInterop.scenarios().filter(arguments -> PEFT_0_14_FIELDS.containsKey(((PeftScenario) arguments.get()[1]).peft().peftType()));
    }

    /** Each method as the interoperability scenarios configure it, on a Llama-family and a BERT-family model. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("scenarios")
    void testEveryKeyGraftWritesIsAPeft014Field(Supplier<InteropModel> model, PeftScenario scenario) throws IOException {
        try (InteropModel opened = model.get()) {
            Map<String, Object> config = savedConfig(opened, scenario.peft().peftType(), scenario.graftSpec("default"));
            assertThat(config.keySet()).as("keys Graft writes for %s", scenario.peft().peftType()).isSubsetOf(peft014Fields(scenario.peft().peftType()));
        }
    }

    /** Each method with Graft's defaults (Bone with a block size that fits the tiny model), as a recipe naming only the method gives. */
    @Test
    void testDefaultConfigurationsWriteOnlyPeft014Fields() throws IOException {
        try (TinyLlama llama = TinyLlama.tiny()) {
            for (String peftType : List.of("LORA", "VERA", "IA3", "BONE")) {
                Map<String, Object> options = peftType.equals("BONE") ? Map.of("r", 4) : Map.of();
                Map<String, Object> config = savedConfig(llama, peftType, new AdapterSpec("default", options, TargetRules.defaults(), Composition.SUM));
                assertThat(config.keySet()).as("keys Graft writes for %s", peftType).isSubsetOf(peft014Fields(peftType));
            }
            for (String peftType : List.of("PREFIX_TUNING", "PROMPT_TUNING")) {
                Map<String, Object> config = savedConfig(llama, peftType, new AdapterSpec("default", Map.of("num_virtual_tokens", 2), TargetRules.defaults(), Composition.SUM));
                assertThat(config.keySet()).as("keys Graft writes for %s", peftType).isSubsetOf(peft014Fields(peftType)).doesNotContain("modules_to_save");
            }
        }
    }

    /** A field 0.14 lacks is left out only at its neutral value: a Bone dropout Graft trained with, or an exclusion, is written. */
    @Test
    void testFieldsPeft014LacksAreWrittenWhenTheyMatter() throws IOException {
        try (TinyLlama llama = TinyLlama.tiny()) {
            Map<String, Object> bone = savedConfig(llama, "BONE", new AdapterSpec("default", Map.of("r", 4, "bone_dropout", 0.1), TargetRules.defaults(), Composition.SUM));
            assertThat(bone).containsEntry("bone_dropout", 0.1);
            Map<String, Object> vera = savedConfig(llama, "VERA", new AdapterSpec("default", Map.of("r", 4),
                    TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"), "exclude_modules", List.of("model.layers.1.self_attn.v_proj"))), Composition.SUM));
            assertThat(vera).containsEntry("exclude_modules", List.of("model.layers.1.self_attn.v_proj"));
            Map<String, Object> ia3 = savedConfig(llama, "IA3", new AdapterSpec("default", Map.of(),
                    TargetRules.fromConfig(Map.of("target_modules", List.of("k_proj", "v_proj", "down_proj"), "layers_to_transform", List.of(1))), Composition.SUM));
            assertThat(ia3).containsEntry("layers_to_transform", List.of(1)).doesNotContainKey("layers_pattern");
        }
    }

    private Map<String, Object> savedConfig(InteropModel testModel, String peftType, AdapterSpec spec) throws IOException {
        PeftModel model = testModel.newModel();
        model.addAdapter(spec, PeftMethods.byPeftType(peftType));
        Path folder = scratch.resolve(peftType + "-" + System.nanoTime());
        AdapterStore.save(model, "default", folder, testModel.base().nameOrPath());
        return JSON.readValue(folder.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
    }

    private static Set<String> peft014Fields(String peftType) {
        Set<String> own = PEFT_0_14_FIELDS.get(peftType);
        assertThat(own).as("PEFT 0.14's fields of %s", peftType).isNotNull();
        Set<String> common = peftType.endsWith("_TUNING") ? union(PEFT_CONFIG, PROMPT_LEARNING) : PEFT_CONFIG;
        return union(common, own);
    }

    private static Set<String> union(Set<String> first, Set<String> second) {
        return Set.copyOf(Stream.concat(first.stream(), second.stream()).toList());
    }
}
