package dev.graft.runtime.store;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.model.ModelAssertions;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A gated adapter with a classification head, saved as PEFT saves a SEQ_CLS adapter and loaded back. */
final class TestTaskAdapters {
    private static final long[][] IDS = {{1, 5, 9, 2}, {1, 7, 2, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1}, {1, 1, 1, 0}};

    @TempDir
    Path folder;

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
    void testSequenceClassificationKeysConfigAndRoundTrip() {
        TaskModel trained = task();
        trained.model().adapter("shifted").trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(parameter.getArray().getShape())));
        trained.headParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(parameter.getArray().getShape())));
        float[] expected = logits(trained);

        TaskAdapters.save(trained, folder, "tiny-bert");

        Path adapter = folder.resolve("shifted");
        try (SafetensorsFile weights = SafetensorsFile.open(adapter.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).contains(
                    "base_model.model.bert.encoder.layer.0.attention.self.query.shift",
                    "base_model.model.bert.encoder.layer.1.attention.self.value.graft_gate.weight",
                    "base_model.model.bert.encoder.layer.1.attention.self.value.graft_gate.bias",
                    "base_model.model.classifier.weight",
                    "base_model.model.classifier.bias")
                    .hasSize(4 * 3 + 2);
        }
        Map<String, Object> config = AdapterStore.config(adapter);
        assertThat(config).containsEntry("task_type", "SEQ_CLS").containsEntry("modules_to_save", List.of("classifier", "score"))
                .containsEntry("graft_labels", List.of("ham", "spam")).containsEntry("graft_pooling", "mean").containsEntry("graft_composition", "gated");

        PeftModel fresh = model(9);
        TaskModel loaded = TaskAdapters.load(fresh, List.of(folder), peftType -> "SHIFT".equals(peftType) ? new ShiftMethod() : null, manager);

        assertThat(loaded.type()).isEqualTo(TaskType.SEQUENCE_CLASSIFICATION);
        assertThat(loaded.head().orElseThrow().labels()).containsExactly("ham", "spam");
        float[] actual = logits(loaded);
        ModelAssertions.assertClose(actual, expected, 1e-6, "logits: gates, shifts and head reloaded");
        assertThat(TaskAdapters.taskType(adapter)).contains(TaskType.SEQUENCE_CLASSIFICATION);
    }

    private TaskModel task() {
        PeftModel model = model(1);
        model.addAdapter(new AdapterSpec("shifted", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("query", "value"))), Composition.GATED),
                new ShiftMethod());
        return TaskModel.classification(model, new ClassificationHead(32, List.of("ham", "spam"), Pooling.MEAN, 0.1f).initializeIn(manager));
    }

    private PeftModel model(int seed) {
        Engine.getInstance().setRandomSeed(seed);
        BertConfig config = BertConfig.tiny();
        return new PeftModel(BertModel.create(config, BertWeights.random(config, manager, 3), manager, null));
    }

    private float[] logits(TaskModel task) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = task.inputs(batch, IDS, MASK, null);
            return task.logits(new ParameterStore(batch, false), inputs, false).toFloatArray();
        }
    }
}
