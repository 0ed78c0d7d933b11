package dev.graft.runtime.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Configs in the shapes PEFT releases after 0.14 write: their added fields load at their neutral values and are refused
 * with one line otherwise; {@code exclude_modules} excludes; {@code task_type} maps to a head or is refused.
 *
 * <p>The field names and defaults are PEFT 0.21.0's ({@code src/peft/tuners/lora/config.py LoraConfig} and
 * {@code src/peft/config.py PeftConfigMixin}, read from the released wheel): a {@code LoraConfig} saved by 0.21 holds,
 * beyond 0.14's fields, {@code peft_version}, {@code trainable_token_indices}, {@code corda_config},
 * {@code lora_ga_config}, {@code velora_config}, {@code alora_invocation_tokens}, {@code use_qalora},
 * {@code qalora_group_size}, {@code monteclora_config}, {@code target_parameters}, {@code use_bdlora},
 * {@code arrow_config}, {@code kasa_config} and {@code ensure_weight_tying}. The adapter here is the store test's
 * {@code SHIFT} method, which declares none of them, as Graft's methods do not.
 */
final class TestNewerPeftConfigs {
    private static final Function<String, PeftMethod> METHODS = peftType -> "SHIFT".equals(peftType) ? new ShiftMethod() : null;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path directory;

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** Every field a PEFT 0.21 {@code LoraConfig} writes, at its default (0.14's own fields included). */
    private static Map<String, Object> peft021Fields() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("alora_invocation_tokens", null);
        fields.put("alpha_pattern", Map.of());
        fields.put("arrow_config", null);
        fields.put("corda_config", null);
        fields.put("ensure_weight_tying", false);
        fields.put("eva_config", null);
        fields.put("exclude_modules", null);
        fields.put("kasa_config", null);
        fields.put("layer_replication", null);
        fields.put("layers_pattern", null);
        fields.put("layers_to_transform", null);
        fields.put("loftq_config", Map.of());
        fields.put("lora_bias", false);
        fields.put("lora_ga_config", null);
        fields.put("megatron_config", null);
        fields.put("megatron_core", "megatron.core");
        fields.put("modules_to_save", null);
        fields.put("monteclora_config", null);
        fields.put("peft_version", "0.21.0");
        fields.put("qalora_group_size", 16);
        fields.put("target_parameters", null);
        fields.put("trainable_token_indices", null);
        fields.put("use_bdlora", null);
        fields.put("use_dora", false);
        fields.put("use_qalora", false);
        fields.put("velora_config", null);
        return fields;
    }

    @Test
    void testNewerFieldsAtTheirDefaultsLoadAndAreNotWrittenBack() throws IOException {
        float[] saved = saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))));
        Map<String, Object> config = readConfig(directory);
        config.putAll(peft021Fields());
        config.put("target_modules", List.of("q_proj"));
        writeConfig(directory, config);

        PeftModel model = model();
        Adapter adapter = AdapterStore.load(model, directory, "default", METHODS);
        assertThat(adapter.trainableParameters().get(0).getArray().toFloatArray()).isEqualTo(saved);

        Path resaved = directory.resolve("resaved");
        AdapterStore.save(model, "default", resaved, null);
        // SHIFT is no PEFT type, so every kept field is written back: the 0.14 rule applies to PEFT's own types (see TestPeft014ReadsGraftConfigs)
        assertThat(readConfig(resaved)).containsEntry("use_qalora", false).doesNotContainKey("peft_version");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "use_dora=true", "lora_bias=true", "target_parameters=[\"experts.gate_up_proj\"]", "layer_replication=[[0, 1], [0, 2]]",
            "trainable_token_indices=[0, 5]", "alora_invocation_tokens=[32, 33]", "use_qalora=true", "use_bdlora=true",
            "arrow_config={\"top_k\": 3}", "megatron_config={\"tensor_model_parallel_size\": 2}", "velora_config={\"rank\": 1}",
            "monteclora_config={\"num_samples\": 4}", "kasa_config={\"beta\": 0.1}"})
    void testANewerFieldThatChangesTheAdapterIsRefusedWithOneLine(String assignment) throws IOException {
        String field = assignment.substring(0, assignment.indexOf('='));
        Object value = JSON.readValue(assignment.substring(assignment.indexOf('=') + 1), Object.class);
        saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))));
        Map<String, Object> config = readConfig(directory);
        config.putAll(peft021Fields());
        config.put(field, value);
        writeConfig(directory, config);

        PeftModel model = model();
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(StoreException.class)
                .hasMessageContainingAll("adapter_config.json: field " + field + " is " + value, "Graft's 'shift' method does not implement", "Graft would need")
                .satisfies(error -> assertThat(error.getMessage()).doesNotContain("\n"));
        assertThat(model.adapters()).isEmpty();
    }

    /** The initialisation settings only matter while PEFT makes an adapter: a saved one loads whatever they say. */
    @Test
    void testInitialisationSettingsLoadWhateverTheySay() throws IOException {
        saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))));
        Map<String, Object> config = readConfig(directory);
        config.putAll(peft021Fields());
        config.put("eva_config", Map.of("rho", 2.0));
        config.put("corda_config", Map.of("corda_method", "kpm"));
        config.put("lora_ga_config", Map.of("direction", "ArB2r"));
        config.put("loftq_config", Map.of("loftq_bits", 4));
        config.put("qalora_group_size", 32);
        config.put("ensure_weight_tying", true);
        writeConfig(directory, config);
        AdapterStore.load(model(), directory, "default", METHODS);
    }

    /** PEFT's rule: a module excluded is never targeted, whatever {@code target_modules} says, as a list entry or a regex. */
    @Test
    void testExcludeModulesWinsOverTargets() throws IOException {
        saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"), "exclude_modules", List.of("model.layers.1.self_attn.v_proj"))));
        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).containsExactlyInAnyOrder("base_model.model.model.layers.0.self_attn.q_proj.shift",
                    "base_model.model.model.layers.1.self_attn.q_proj.shift", "base_model.model.model.layers.0.self_attn.v_proj.shift");
        }
        assertThat(readConfig(directory)).containsEntry("exclude_modules", List.of("model.layers.1.self_attn.v_proj"));
        assertThat(AdapterStore.load(model(), directory, "default", METHODS).sites()).hasSize(3);

        Path regex = directory.resolve("regex");
        saveShift(regex, TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"), "exclude_modules", ".*layers\\.0\\..*")));
        try (SafetensorsFile weights = SafetensorsFile.open(regex.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).containsExactlyInAnyOrder("base_model.model.model.layers.1.self_attn.q_proj.shift", "base_model.model.model.layers.1.self_attn.v_proj.shift");
        }
        assertThat(AdapterStore.load(model(), regex, "default", METHODS).sites()).hasSize(2);
    }

    /** A decoder takes {@code CAUSAL_LM}, {@code SEQ_CLS} (its {@code score} head), {@code FEATURE_EXTRACTION} and none. */
    @ParameterizedTest
    @ValueSource(strings = {"CAUSAL_LM", "SEQ_CLS", "FEATURE_EXTRACTION", ""})
    void testTaskTypesWithAHeadLoad(String taskType) throws IOException {
        saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))));
        Map<String, Object> config = readConfig(directory);
        config.put("task_type", taskType.isEmpty() ? null : taskType);
        writeConfig(directory, config);
        AdapterStore.load(model(), directory, "default", METHODS);
    }

    @ParameterizedTest
    @ValueSource(strings = {"TOKEN_CLS=token-classification head", "QUESTION_ANS=span head", "SEQ_2_SEQ_LM=encoder-decoder model", "SEQ_CLASSIFICATION=none of PEFT's"})
    void testTaskTypesWithoutAHeadAreRefusedWithOneLine(String taskAndReason) throws IOException {
        String[] parts = taskAndReason.split("=");
        saveShift(TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))));
        Map<String, Object> config = readConfig(directory);
        config.put("task_type", parts[0]);
        writeConfig(directory, config);
        PeftModel model = model();
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(StoreException.class)
                .hasMessageContainingAll("adapter_config.json: task_type ", parts[0], parts[1])
                .satisfies(error -> assertThat(error.getMessage()).doesNotContain("\n"));
        assertThat(model.adapters()).isEmpty();
    }

    @Test
    void testCausalLanguageModelAdapterNeedsADecoder() {
        assertThat(AdapterTask.unsupportedTaskType("CAUSAL_LM", "llama")).isEmpty();
        assertThat(AdapterTask.unsupportedTaskType("CAUSAL_LM", "bert")).get().asString()
                .contains("task_type CAUSAL_LM", "bert encoder", "Graft would need a causal language-model head");
        assertThat(AdapterTask.unsupportedTaskType("SEQ_CLS", "bert")).isEmpty();
        assertThat(AdapterTask.unsupportedTaskType("FEATURE_EXTRACTION", "bert")).isEmpty();
    }

    private float[] saveShift(TargetRules rules) {
        return saveShift(directory, rules);
    }

    /** Saves a SHIFT adapter with moved parameters; the first one's values. */
    private float[] saveShift(Path folder, TargetRules rules) {
        PeftModel model = model();
        Adapter adapter = model.addAdapter(new AdapterSpec("default", Map.of(), rules, Composition.SUM), new ShiftMethod());
        adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(parameter.getArray().getShape())));
        AdapterStore.save(model, "default", folder, null);
        return adapter.trainableParameters().get(0).getArray().toFloatArray();
    }

    private static Map<String, Object> readConfig(Path folder) throws IOException {
        return JSON.readValue(folder.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
    }

    private static void writeConfig(Path folder, Map<String, Object> config) throws IOException {
        JSON.writeValue(folder.resolve(AdapterStore.CONFIG_FILE).toFile(), config);
    }

    private PeftModel model() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 3), modelManager, null));
    }
}
