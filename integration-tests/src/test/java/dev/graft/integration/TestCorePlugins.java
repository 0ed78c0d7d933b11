package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The core method plugins as the distribution ships them: one jar per method, combinable through gates. */
final class TestCorePlugins {
    /** The distribution's plugin folders and the methods each provides: the bone jar provides Bone and its successor MiSS. */
    private static final Map<String, List<String>> CORE_PLUGINS = Map.of(
            "adapter", List.of("adapter"),
            "bone", List.of("bone", "miss"),
            "ia3", List.of("ia3"),
            "lora", List.of("lora"),
            "plora", List.of("plora"),
            "prefix", List.of("prefix"),
            "prompt", List.of("prompt"),
            "vera", List.of("vera"));
    private static final List<String> CORE_METHODS = CORE_PLUGINS.values().stream().flatMap(List::stream).sorted().toList();

    @TempDir
    static Path scratch;

    private static Path plugins;

    @BeforeAll
    static void findPlugins() {
        plugins = Path.of(System.getProperty("graft.distribution", "../runtime/distribution/target/graft")).toAbsolutePath().normalize().resolve("plugins");
        assertThat(plugins).isDirectory();
    }

    @Test
    void testEveryCoreMethodLoadsFromItsPluginFolder() {
        MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins));
        assertThat(registry.ids()).containsExactlyInAnyOrderElementsOf(CORE_METHODS);
        assertThat(registry.problems()).isEmpty();
    }

    @Test
    void testRemovingAnyPluginRemovesOnlyItsMethods() throws IOException {
        for (String removed : CORE_PLUGINS.keySet()) {
            Path folder = scratch.resolve("without-" + removed);
            for (String kept : CORE_PLUGINS.keySet()) {
                if (!kept.equals(removed)) {
                    copyFolder(plugins.resolve(kept), folder.resolve(kept));
                }
            }
            MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(folder));
            List<String> expected = CORE_METHODS.stream().filter(id -> !CORE_PLUGINS.get(removed).contains(id)).collect(Collectors.toList());
            assertThat(registry.ids()).as("methods without %s", removed).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(registry.problems()).as("problems without %s", removed).isEmpty();
        }
    }

    @Test
    void testUniPeltCombinationOfPluginMethodsTrainsObservableGates() {
        MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins));
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            PeftModel model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 11), modelManager, null));
            attach(model, registry, "lora", Map.of("r", 8, "lora_alpha", 2), Map.of("target_modules", List.of("q_proj", "v_proj")));
            attach(model, registry, "adapter", Map.of("config", "pfeiffer"), Map.of());
            attach(model, registry, "prefix", Map.of("num_virtual_tokens", 10), Map.of());
            Map<String, byte[]> baseBefore = bytes(model);

            List<Double> before = new ArrayList<>();
            List<Double> after = new ArrayList<>();
            model.setGateRecording(true);
            try (PeftTrainer trainer = PeftTrainer.create(model, ResettableAdamW.builder().optLearningRate(0.05f).build(), Loss.l2Loss())) {
                for (int step = 0; step < 5; step++) {
                    try (NDManager batch = manager.newSubManager()) {
                        NDList inputs = new NDList(batch.create(new long[][] {{1, 5, 9, 2, 6, 5}, {3, 5, 8, 9, 7, 9}}));
                        NDList labels = new NDList(batch.ones(new Shape(2, 6, LlamaConfig.tiny().vocabularySize()), DataType.FLOAT32));
                        trainer.step(inputs, labels);
                    }
                    List<Double> means = model.gateReadings().stream().map(GateReading::mean).collect(Collectors.toList());
                    if (step == 0) {
                        before.addAll(means);
                    }
                    after.clear();
                    after.addAll(means);
                }
            }

            List<GateReading> readings = model.gateReadings();
            assertThat(readings).extracting(GateReading::method).containsOnly("lora", "adapter", "prefix");
            assertThat(readings).filteredOn(reading -> reading.method().equals("lora")).hasSize(4);
            assertThat(readings).filteredOn(reading -> reading.method().equals("adapter")).extracting(GateReading::site)
                    .containsExactly("model.layers.0.mlp", "model.layers.1.mlp");
            assertThat(readings).filteredOn(reading -> reading.method().equals("prefix")).extracting(GateReading::layerIndex).containsExactly(0, 1);
            for (GateReading reading : readings) {
                assertThat(reading.values()).hasSize(2);
                for (float value : reading.values()) {
                    assertThat(value).as("gate of %s at %s", reading.method(), reading.site()).isStrictlyBetween(0f, 1f);
                }
            }
            assertThat(after).as("gate means after training").isNotEqualTo(before);
            assertThat(bytes(model)).as("base weights after training").containsExactlyEntriesOf(baseBefore);
            assertThatThrownBy(() -> model.merge(List.of("gated-lora"))).isInstanceOf(IllegalStateException.class).hasMessageContaining("gated");
        }
    }

    private static void attach(PeftModel model, MethodRegistry registry, String id, Map<String, Object> options, Map<String, Object> targets) {
        LoadedMethod method = registry.requireMethod(id);
        model.addAdapter(new AdapterSpec("gated-" + id, options, TargetRules.fromConfig(targets), Composition.GATED), method.method());
    }

    private static Map<String, byte[]> bytes(PeftModel model) {
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        model.base().stateDict().forEach((key, value) -> bytes.put(key, value.toByteArray()));
        return bytes;
    }

    private static void copyFolder(Path source, Path target) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.collect(Collectors.toList())) {
                Files.copy(file, target.resolve(file.getFileName()));
            }
        }
    }
}
