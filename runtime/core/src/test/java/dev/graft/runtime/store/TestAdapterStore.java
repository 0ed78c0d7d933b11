package dev.graft.runtime.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestAdapterStore {
    private static final Function<String, PeftMethod> METHODS = peftType -> "SHIFT".equals(peftType) ? new ShiftMethod() : null;

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

    @Test
    void testSaveWritesPeftLayoutAndLoadGivesIdenticalOutputs() throws IOException {
        PeftModel model = model();
        Adapter adapter = model.addAdapter(new AdapterSpec("default", Map.of("scale", 2.0),
                TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"), "layers_to_transform", List.of(1))), Composition.SUM), new ShiftMethod());
        adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(parameter.getArray().getShape())));
        float[] expected = logits(model);

        AdapterStore.save(model, "default", directory, "tiny-llama");

        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).containsExactlyInAnyOrder(
                    "base_model.model.model.layers.1.self_attn.q_proj.shift", "base_model.model.model.layers.1.self_attn.v_proj.shift");
            assertThat(weights.metadata()).containsEntry("format", "pt");
        }
        Map<String, Object> config = new ObjectMapper().readValue(directory.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<>() {});
        assertThat(config).containsEntry("peft_type", "SHIFT").containsEntry("task_type", "CAUSAL_LM").containsEntry("scale", 2.0)
                .containsEntry("target_modules", List.of("q_proj", "v_proj")).containsEntry("layers_to_transform", List.of(1))
                .containsEntry("base_model_name_or_path", "tiny-llama").containsEntry("inference_mode", true);
        assertThat(List.copyOf(config.keySet())).isSorted();

        PeftModel reloaded = model();
        AdapterStore.load(reloaded, directory, "default", METHODS);
        assertThat(logits(reloaded)).isEqualTo(expected);
    }

    @Test
    void testUnknownFieldsAreKeptAndMultiAdapterLayoutLoads() throws IOException {
        PeftModel model = model();
        model.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of()), Composition.SUM, Map.of("future_field", "x")), new ShiftMethod());
        model.addAdapter(new AdapterSpec("second", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("k_proj"))), Composition.GATED), new ShiftMethod());
        AdapterStore.save(model, "default", directory, null);
        AdapterStore.save(model, "second", directory.resolve("second"), null);
        Map<String, Object> config = new ObjectMapper().readValue(directory.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<>() {});
        assertThat(config).containsEntry("future_field", "x").containsEntry("target_modules", List.of("q_proj"));

        PeftModel reloaded = model();
        List<Adapter> adapters = AdapterStore.loadAll(reloaded, directory, METHODS);
        assertThat(adapters).extracting(Adapter::name).containsExactly("default", "second");
        assertThat(adapters.get(0).spec().extraConfig()).containsEntry("future_field", "x");
        assertThat(adapters.get(1).composition()).isEqualTo(Composition.GATED);
    }

    /** PEFT writes every field of its config, unset ones as null (prompt tuning's {@code prompt_tuning_init_text}, say). */
    @Test
    void testAKnownFieldGivenAsNullIsWrittenBackAsNull() throws IOException {
        PeftModel source = model();
        source.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of()), Composition.SUM), new ShiftMethod());
        AdapterStore.save(source, "default", directory, null);
        ObjectMapper json = new ObjectMapper();
        Map<String, Object> config = json.readValue(directory.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        assertThat(config).doesNotContainKey("note");
        config.put("note", null);
        json.writeValue(directory.resolve(AdapterStore.CONFIG_FILE).toFile(), config);

        PeftModel model = model();
        AdapterStore.load(model, directory, "default", METHODS);
        Path resaved = directory.resolve("resaved");
        AdapterStore.save(model, "default", resaved, null);

        Map<String, Object> written = json.readValue(resaved.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        assertThat(written).containsEntry("note", null).containsEntry("scale", 1.0);
    }

    @Test
    void testBadFoldersGiveOneClearErrorAndAttachNothing() throws IOException {
        PeftModel model = model();
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(StoreException.class).hasMessageContaining("adapter_config.json does not exist");
        Files.writeString(directory.resolve(AdapterStore.CONFIG_FILE), "{\"peft_type\": \"LORA\"}");
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(StoreException.class).hasMessageContaining("no loaded method has peft_type LORA");
        Files.writeString(directory.resolve(AdapterStore.CONFIG_FILE), "{\"peft_type\": ");
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(StoreException.class).hasMessageContaining("adapter_config.json is not valid JSON at line 1, column 15: ");

        PeftModel source = model();
        source.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("v_proj"))), Composition.SUM), new ShiftMethod());
        AdapterStore.save(source, "default", directory, null);
        Files.writeString(directory.resolve(AdapterStore.CONFIG_FILE),
                Files.readString(directory.resolve(AdapterStore.CONFIG_FILE)).replace("\"v_proj\"", "\"q_proj\""));
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("adapter 'default' (method shift): the checkpoint does not fit the adapter's configuration: "
                        + "2 keys in the file match no module of the adapter: 'base_model.model.model.layers.0.self_attn.v_proj.shift', "
                        + "'base_model.model.model.layers.1.self_attn.v_proj.shift'; "
                        + "2 keys the adapter expects are not in the file: 'base_model.model.model.layers.0.self_attn.q_proj.shift' (shape (64)), "
                        + "'base_model.model.model.layers.1.self_attn.q_proj.shift' (shape (64)). Check target_modules");
        assertThat(model.adapters()).isEmpty();
    }

    @Test
    void testMisshapenAndMissingTensorsAreNamedByTheirCheckpointKeys() {
        PeftModel source = model();
        source.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("v_proj"), "layers_to_transform", List.of(0))),
                Composition.SUM), new ShiftMethod());
        AdapterStore.save(source, "default", directory, null);
        String key = "base_model.model.model.layers.0.self_attn.v_proj.shift";
        Path weights = directory.resolve(AdapterStore.WEIGHTS_FILE);
        PeftModel model = model();

        SafetensorsWriter.write(weights, new LinkedHashMap<>(Map.of(key, manager.zeros(new Shape(16)))), Map.of("format", "pt"));
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("adapter 'default' (method shift): checkpoint key '" + key + "' has shape (16), expected (32)");
        SafetensorsWriter.write(weights, new LinkedHashMap<>(), Map.of("format", "pt"));
        assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", METHODS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("adapter 'default' (method shift): the checkpoint does not fit the adapter's configuration: 1 key the adapter expects is not "
                        + "in the file: '" + key + "' (shape (32)). Check target_modules (and layers_to_transform) in adapter_config.json against the keys in "
                        + "adapter_model.safetensors");
        assertThat(model.adapters()).isEmpty();
    }

    @Test
    void testLongKeyListsShowTheFirstFewAndACount() {
        assertThat(AdapterState.listed(List.of("'a'", "'b'"), ", ")).isEqualTo("'a', 'b'");
        assertThat(AdapterState.listed(List.of("'a'", "'b'", "'c'", "'d'", "'e'"), "; ")).isEqualTo("'a'; 'b'; 'c' and 2 more");
    }

    @Test
    void testAFailedSaveLeavesTheSavedAdapterIntact() throws IOException {
        PeftModel model = model();
        model.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of()), Composition.SUM), new ShiftMethod());
        AdapterStore.save(model, "default", directory, null);
        byte[] weights = Files.readAllBytes(directory.resolve(AdapterStore.WEIGHTS_FILE));
        byte[] config = Files.readAllBytes(directory.resolve(AdapterStore.CONFIG_FILE));

        model.adapter("default").trainableParameters().get(0).getArray().close();
        assertThatThrownBy(() -> AdapterStore.save(model, "default", directory, null)).isInstanceOf(RuntimeException.class);

        assertThat(Files.readAllBytes(directory.resolve(AdapterStore.WEIGHTS_FILE))).isEqualTo(weights);
        assertThat(Files.readAllBytes(directory.resolve(AdapterStore.CONFIG_FILE))).isEqualTo(config);
        try (java.util.stream.Stream<Path> files = Files.list(directory)) {
            assertThat(files.map(file -> file.getFileName().toString())).containsExactlyInAnyOrder(AdapterStore.WEIGHTS_FILE, AdapterStore.CONFIG_FILE);
        }
    }

    private PeftModel model() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 3), modelManager, null));
    }

    private float[] logits(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            NDArray ids = batch.create(new long[][] {{1, 2, 3, 4}});
            return model.forward(new ParameterStore(batch, false), new NDList(ids), false).singletonOrThrow().toFloatArray();
        }
    }
}
