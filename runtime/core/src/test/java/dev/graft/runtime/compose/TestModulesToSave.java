package dev.graft.runtime.compose;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.store.MergedExport;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT's {@code modules_to_save} on any base module: a trainable copy per adapter, saved, loaded and exported as PEFT does. */
final class TestModulesToSave {
    private static final long[][] IDS = {{1, 5, 9, 2}, {1, 7, 2, 0}, {1, 3, 4, 2}, {1, 8, 2, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 0}};
    private static final long[] LABELS = {0, 1, 1, 0};
    /** A linear, a layer norm and the input embedding, each a different kind of module (not a key projection: softmax makes its bias's gradient zero). */
    private static final List<String> MODULES = List.of("encoder.layer.0.intermediate.dense", "embeddings.LayerNorm", "embeddings.word_embeddings");

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
    void testCopiesCountTrainAloneAndTheOriginalsStayBitIdentical() {
        PeftModel model = model();
        Adapter adapter = attach(model, MODULES);
        BertConfig config = BertConfig.tiny();
        int hidden = config.hiddenSize();
        long lowRank = 2L * 2 * FixedLinearModules.RANK * (hidden + hidden);
        long copies = (long) config.intermediateSize() * hidden + config.intermediateSize() + 2L * hidden + (long) config.vocabularySize() * hidden;
        assertThat(adapter.moduleCopies().keySet()).containsExactly("encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.intermediate.dense.bias",
                "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias", "embeddings.word_embeddings.weight");
        assertThat(model.trainableParameterCount()).as("two low-rank pairs per layer, plus the copies").isEqualTo(lowRank + copies);

        Map<String, float[]> baseBefore = snapshot(model.base().stateDict());
        float[] before = hidden(model);
        assertThat(hidden(model)).as("fresh copies equal their originals").isEqualTo(before);

        TaskModel task = TaskModel.classification(model, new ClassificationHead(hidden, List.of("no", "yes"), Pooling.MEAN, 0f).initializeIn(model.base().manager()));
        PeftTrainer trainer = PeftTrainer.create(model, ResettableAdamW.builder().optLearningRate(0.01f).build(), task::meanLoss, task.headParameters());
        assertThat(trainer.namedTrainableParameters().values()).containsAll(adapter.moduleCopies().values());
        Map<Parameter, float[]> trainableBefore = new LinkedHashMap<>();
        trainer.namedTrainableParameters().values().forEach(parameter -> trainableBefore.put(parameter, parameter.getArray().toFloatArray()));
        for (int step = 0; step < 3; step++) {
            try (NDManager batch = manager.newSubManager()) {
                trainer.step(task.inputs(batch, IDS, MASK, null), new NDList(batch.create(LABELS)));
            }
        }
        for (Map.Entry<Parameter, float[]> entry : trainableBefore.entrySet()) {
            assertThat(maximumDifference(entry.getValue(), entry.getKey().getArray().toFloatArray())).as("%s is updated", entry.getKey().getName()).isGreaterThan(1e-4);
        }
        Map<String, float[]> baseAfter = snapshot(model.base().stateDict());
        for (Map.Entry<String, float[]> entry : baseBefore.entrySet()) {
            assertThat(baseAfter.get(entry.getKey())).as("frozen %s stays bit-identical", entry.getKey()).isEqualTo(entry.getValue());
        }
        assertThat(hidden(model)).as("the copies, not the originals, are read").isNotEqualTo(before);
        model.setActive("default", false);
        float[] baseOnly = hidden(model);
        assertThat(hidden(model())).as("deactivated, the base model is the original").isEqualTo(baseOnly);
    }

    @Test
    void testSaveLoadIsIdenticalUnderPeftKeysAndMergedExportEqualsTheUnmergedModel() throws IOException {
        PeftModel model = model();
        Adapter adapter = attach(model, MODULES);
        for (Parameter copy : adapter.moduleCopies().values()) {
            try (NDArray noise = manager.randomNormal(0, 0.05f, copy.getArray().getShape(), copy.getArray().getDataType())) {
                copy.getArray().addi(noise);
            }
        }
        float[] expected = hidden(model);

        AdapterStore.save(model, "default", directory, "tiny-bert");
        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).as("PEFT's keys: the module path without modules_to_save or the adapter name")
                    .contains("base_model.model.encoder.layer.0.intermediate.dense.weight", "base_model.model.encoder.layer.0.intermediate.dense.bias",
                            "base_model.model.embeddings.LayerNorm.weight", "base_model.model.embeddings.LayerNorm.bias",
                            "base_model.model.embeddings.word_embeddings.weight");
        }
        Map<String, Object> config = new ObjectMapper().readValue(directory.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<>() {});
        assertThat(config).containsEntry("modules_to_save", MODULES);

        PeftModel reloaded = model();
        Adapter loaded = AdapterStore.load(reloaded, directory, "default", peftType -> "LOW_RANK".equals(peftType) ? method() : null);
        assertThat(loaded.spec().modulesToSave()).isEqualTo(MODULES);
        assertThat(hidden(reloaded)).as("save then load gives identical outputs").isEqualTo(expected);

        Path exported = directory.resolve("merged");
        MergedExport.export(model, List.of("default"), Map.of("model_type", "bert"), Dtype.F32, List.of(), exported);
        Map<String, NDArray> weights = new LinkedHashMap<>();
        NDManager exportManager = manager.newSubManager();
        try (SafetensorsFile file = SafetensorsFile.open(exported.resolve(MergedExport.WEIGHTS_FILE))) {
            for (String name : file.names()) {
                weights.put(name, file.load(name, exportManager));
            }
        }
        PeftModel merged = new PeftModel(BertModel.create(BertConfig.tiny(), weights, exportManager, null));
        float[] actual = hidden(merged);
        assertThat(maximumDifference(expected, actual)).as("the merged export, copies in place of the originals, equals the unmerged model").isLessThan(1e-4);
        assertThat(maximumDifference(expected, hidden(model))).as("the model is unmerged after the export").isLessThan(1e-4);
    }

    @Test
    void testUnknownOrTargetedModulesAndTwoActiveCopiesAreRefused() {
        PeftModel model = model();
        assertThatThrownBy(() -> attach(model, List.of("encoder.layer.0.attention.self")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("modules_to_save names 'encoder.layer.0.attention.self', which is no module of this bert model with weights of its own");
        assertThatThrownBy(() -> attach(model, List.of("encoder.layer.0.attention.self.query")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("both targets encoder.layer.0.attention.self.query and lists it in modules_to_save");
        assertThat(model.adapters()).isEmpty();

        model.addAdapter(new AdapterSpec("first", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("value"))), Composition.SUM, Map.of(),
                List.of("pooler.dense")), method());
        model.addAdapter(new AdapterSpec("second", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("value"))), Composition.SUM, Map.of(),
                List.of("pooler.dense")), method());
        assertThatThrownBy(() -> hidden(model)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("adapters 'first' and 'second' are both active and both train a copy of pooler.dense (modules_to_save)");
        assertThatThrownBy(() -> model.route(List.of("first", "second"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("adapter 'first' trains full copies of [pooler.dense] (modules_to_save)");
        model.setActiveAdapters(List.of("second"));
        assertThat(hidden(model)).hasSize(IDS.length * IDS[0].length * BertConfig.tiny().hiddenSize());
    }

    private static Adapter attach(PeftModel model, List<String> modules) {
        return model.addAdapter(new AdapterSpec("default", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("query", "value"))), Composition.SUM,
                Map.of(), modules), method());
    }

    private static LinearKindsMethod method() {
        return new LinearKindsMethod(LinearKindsMethod.Kind.LOW_RANK, 5);
    }

    private PeftModel model() {
        Engine.getInstance().setRandomSeed(7);
        NDManager modelManager = manager.newSubManager();
        BertConfig config = BertConfig.tiny();
        return new PeftModel(BertModel.create(config, BertWeights.random(config, modelManager, 11), modelManager, null));
    }

    private float[] hidden(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(IDS), batch.create(MASK));
            return model.forward(new ParameterStore(batch, false), inputs, false).get(0).toFloatArray();
        }
    }

    private static Map<String, float[]> snapshot(Map<String, NDArray> state) {
        Map<String, float[]> values = new LinkedHashMap<>();
        state.forEach((key, array) -> values.put(key, array.toFloatArray()));
        return values;
    }

    private static double maximumDifference(float[] expected, float[] actual) {
        double maximum = 0;
        for (int index = 0; index < expected.length; index++) {
            maximum = Math.max(maximum, Math.abs(expected[index] - actual[index]));
        }
        return maximum;
    }
}
