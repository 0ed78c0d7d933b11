package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.ShiftMethod;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The trainer on a tiny BERT with a shift adapter on query/value and a classification head. */
final class TestPeftTrainer {
    private static final long[][] IDS = {{1, 5, 9, 2}, {1, 7, 2, 0}, {1, 3, 4, 2}, {1, 8, 2, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 0}};
    private static final long[] LABELS = {0, 1, 1, 0};

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
    void testTwoAccumulatedHalvesEqualOneFullBatch() {
        TaskModel whole = task(1);
        TaskModel halves = task(1);
        PeftTrainer wholeTrainer = trainer(whole);
        PeftTrainer halvesTrainer = trainer(halves);

        try (NDManager batch = manager.newSubManager()) {
            wholeTrainer.accumulate(inputs(whole, batch, 0, 4), labels(batch, 0, 4), 1f);
            halvesTrainer.accumulate(inputs(halves, batch, 0, 2), labels(batch, 0, 2), 0.5f);
            halvesTrainer.accumulate(inputs(halves, batch, 2, 4), labels(batch, 2, 4), 0.5f);
        }
        assertThat(halvesTrainer.gradientNorm()).isCloseTo(wholeTrainer.gradientNorm(), offset(1e-6));
        wholeTrainer.update();
        halvesTrainer.update();

        List<float[]> expected = values(wholeTrainer);
        List<float[]> actual = values(halvesTrainer);
        for (int index = 0; index < expected.size(); index++) {
            for (int element = 0; element < expected.get(index).length; element++) {
                assertThat(actual.get(index)[element]).isCloseTo(expected.get(index)[element], offset(1e-6f));
            }
        }
        assertThat(halvesTrainer.samples()).isEqualTo(4);
        assertThat(halvesTrainer.steps()).isEqualTo(1);
    }

    @Test
    void testUpdateZeroesTheGradientsSoStepsDoNotAccumulate() {
        TaskModel task = task(2);
        PeftTrainer trainer = trainer(task);
        try (NDManager batch = manager.newSubManager()) {
            trainer.step(inputs(task, batch, 0, 4), labels(batch, 0, 4));
        }
        assertThat(trainer.gradientNorm()).isZero();
        assertThat(trainer.namedTrainableParameters()).hasSize(2 * 2 * 1 + 2).containsKeys("head.weight", "head.bias");
    }

    @Test
    void testClippingScalesTheGlobalNormDownToTheMaximum() {
        TaskModel task = task(3);
        PeftTrainer trainer = trainer(task);
        try (NDManager batch = manager.newSubManager()) {
            trainer.accumulate(inputs(task, batch, 0, 4), labels(batch, 0, 4), 1f);
        }
        double norm = trainer.gradientNorm();
        assertThat(norm).isGreaterThan(1e-3);
        assertThat(trainer.clipGradients(norm / 4)).isEqualTo(norm);
        assertThat(trainer.gradientNorm()).isCloseTo(norm / 4, offset(norm * 1e-4));
        assertThat(trainer.clipGradients(norm)).isCloseTo(norm / 4, offset(norm * 1e-4));
        assertThat(trainer.gradientNorm()).as("a norm under the maximum is left alone").isCloseTo(norm / 4, offset(norm * 1e-4));
    }

    private TaskModel task(long seed) {
        Engine.getInstance().setRandomSeed(7);
        NDManager modelManager = manager.newSubManager();
        BertConfig config = BertConfig.tiny();
        PeftModel model = new PeftModel(BertModel.create(config, BertWeights.random(config, modelManager, seed), modelManager, null));
        model.addAdapter(new AdapterSpec("shifted", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("query", "value"))), Composition.SUM),
                new ShiftMethod());
        model.adapter("shifted").trainableParameters().forEach(parameter -> parameter.getArray().addi(0.05f));
        ClassificationHead head = new ClassificationHead(config.hiddenSize(), List.of("no", "yes"), Pooling.MEAN, 0f).initializeIn(modelManager);
        return TaskModel.classification(model, head);
    }

    private static PeftTrainer trainer(TaskModel task) {
        return PeftTrainer.create(task.model(), ResettableAdamW.builder().optLearningRate(0.01f).build(), task::meanLoss, task.headParameters());
    }

    private static NDList inputs(TaskModel task, NDManager batch, int from, int to) {
        return task.inputs(batch, java.util.Arrays.copyOfRange(IDS, from, to), java.util.Arrays.copyOfRange(MASK, from, to), null);
    }

    private static NDList labels(NDManager batch, int from, int to) {
        return new NDList(batch.create(java.util.Arrays.copyOfRange(LABELS, from, to)));
    }

    private static List<float[]> values(PeftTrainer trainer) {
        List<float[]> values = new ArrayList<>();
        for (Parameter parameter : trainer.namedTrainableParameters().values()) {
            NDArray array = parameter.getArray();
            values.add(array.toFloatArray());
        }
        return values;
    }
}
