package dev.graft.it.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.store.StoreException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11, item 5: LoRA folders in the shape PEFT 0.21 saves them load into Graft's LoRA and compute PEFT's outputs
 * when the fields added after 0.14 hold their defaults, and are refused with one line naming the field otherwise.
 *
 * <p>The fields and defaults are PEFT 0.21.0's {@code LoraConfig} ({@code src/peft/tuners/lora/config.py}, read from
 * the released wheel) and {@code PeftConfigMixin.peft_version} ({@code src/peft/config.py}); {@code runtime_config} is
 * not written ({@code LoraConfig.to_dict} drops it).
 */
final class TestNewerPeftFolders {
    private static final Set<String> COMMON_FIELDS = Set.of("peft_type", "task_type", "auto_mapping", "base_model_name_or_path", "revision", "inference_mode", "peft_version");

    @TempDir
    Path scratch;

    /** The fields a PEFT 0.21 {@code LoraConfig} writes that 0.14's lacks, at their defaults. */
    private static Map<String, Object> addedAfter014() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("alora_invocation_tokens", null);
        fields.put("arrow_config", null);
        fields.put("corda_config", null);
        fields.put("ensure_weight_tying", false);
        fields.put("kasa_config", null);
        fields.put("lora_ga_config", null);
        fields.put("monteclora_config", null);
        fields.put("peft_version", "0.21.0");
        fields.put("qalora_group_size", 16);
        fields.put("target_parameters", null);
        fields.put("trainable_token_indices", null);
        fields.put("use_bdlora", null);
        fields.put("use_qalora", false);
        fields.put("velora_config", null);
        return fields;
    }

    @Test
    void testLoraFolderOfPeft021AtDefaultsGivesPeftOutputs() throws IOException {
        PeftScenario plain = PeftScenarios.loraPlain();
        Map<String, Object> config = new LinkedHashMap<>(plain.peft().config());
        config.putAll(addedAfter014());
        List<String> optionNames = PeftMethods.byPeftType("LORA").descriptor().options().names();
        TreeSet<String> unknown = new TreeSet<>(config.keySet());
        unknown.removeAll(optionNames);
        unknown.removeAll(COMMON_FIELDS);
        unknown.removeAll(List.of("target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save"));
        PeftScenario newer = new PeftScenario("lora-plain-peft-0.21", plain.fields(), new PeftAdapter(config, plain.peft().tensors()), plain.effect(), List.copyOf(unknown));
        try (TinyLlama llama = TinyLlama.tiny()) {
            new PeftInterop(llama, scratch).assertLoadsLikePeft(newer);
        }
    }

    @Test
    void testLoraFolderOfPeft021WithAFeatureGraftLacksIsRefusedWithOneLine() throws IOException {
        Map<String, Object> features = new LinkedHashMap<>();
        features.put("target_parameters", List.of("mlp.experts.gate_up_proj"));
        features.put("trainable_token_indices", List.of(0, 7));
        features.put("alora_invocation_tokens", List.of(5, 6));
        features.put("layer_replication", List.of(List.of(0, 2), List.of(1, 2)));
        PeftScenario plain = PeftScenarios.loraPlain();
        try (TinyLlama llama = TinyLlama.tiny()) {
            for (Map.Entry<String, Object> feature : features.entrySet()) {
                Map<String, Object> config = new LinkedHashMap<>(plain.peft().config());
                config.putAll(addedAfter014());
                config.put(feature.getKey(), feature.getValue());
                Path folder = scratch.resolve(feature.getKey());
                new PeftAdapter(config, plain.peft().tensors()).writeTo(folder);
                PeftModel model = llama.newModel();
                assertThatThrownBy(() -> AdapterStore.load(model, folder, "default", PeftMethods::byPeftType))
                        .isInstanceOf(StoreException.class)
                        .hasMessageContainingAll("field " + feature.getKey() + " is " + feature.getValue(), "Graft would need")
                        .satisfies(error -> assertThat(error.getMessage()).doesNotContain("\n"));
                assertThat(model.adapters()).isEmpty();
            }
        }
    }
}
