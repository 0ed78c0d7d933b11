package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The scoping of the training step, observed on the managers: after warm-up (the optimizer's moments exist), hundreds
 * of steps as {@link FineTuner} runs them (batch in a sub-manager, accumulate, clip, update) leave exactly as many
 * NDArrays alive in the model's manager and in the data's as before; and a NaN gradient shows in the norm the run checks.
 */
final class TestTrainingStepScoping {
    private static final long[][] IDS = {{1, 5, 9, 2}, {1, 7, 2, 0}, {1, 3, 4, 2}, {1, 8, 2, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 0}};
    private static final long[] LABELS = {0, 1, 1, 0};

    @Test
    void testHundredsOfStepsLeaveNoNdArrayBehind() {
        try (NDManager modelManager = NDManager.newBaseManager(); NDManager dataManager = NDManager.newBaseManager()) {
            TaskModel task = task(modelManager, Composition.GATED);
            PeftTrainer trainer = PeftTrainer.create(task.model(), ResettableAdamW.builder().optLearningRate(1e-3f).build(), task::meanLoss, task.headParameters());
            for (int step = 0; step < 3; step++) {
                step(task, trainer, dataManager);
            }
            int modelArrays = modelManager.getManagedArrays().size();
            int dataArrays = dataManager.getManagedArrays().size();
            for (int step = 0; step < 500; step++) {
                step(task, trainer, dataManager);
            }
            assertThat(trainer.steps()).isEqualTo(503);
            assertThat(modelManager.getManagedArrays()).as("NDArrays alive in the model's manager after 500 more steps").hasSize(modelArrays);
            assertThat(dataManager.getManagedArrays()).as("NDArrays alive in the data's manager after 500 more steps").hasSize(dataArrays);
        }
    }

    @Test
    void testANanGradientMakesTheNormTheRunChecksNaN() {
        try (NDManager modelManager = NDManager.newBaseManager(); NDManager dataManager = NDManager.newBaseManager()) {
            TaskModel task = task(modelManager, Composition.SUM);
            PeftTrainer trainer = PeftTrainer.create(task.model(), ResettableAdamW.builder().optLearningRate(1e-3f).build(), task::meanLoss, task.headParameters());
            try (NDManager batch = dataManager.newSubManager()) {
                float loss = trainer.accumulate(task.inputs(batch, IDS, MASK, null), new NDList(batch.create(LABELS)), 1f);
                assertThat(loss).as("the loss is finite: only a gradient is not").isFinite();
            }
            try (NDArray gradient = trainer.namedTrainableParameters().get("head.weight").getArray().getGradient()) {
                gradient.set(new NDIndex("0, 0"), Float.NaN);
            }
            assertThat(trainer.gradientNorm()).isNaN();
            assertThat(trainer.clipGradients(1.0)).as("clipping reports the norm it found, NaN, and leaves the gradients alone").isNaN();
        }
    }

    private static void step(TaskModel task, PeftTrainer trainer, NDManager dataManager) {
        try (NDManager batch = dataManager.newSubManager()) {
            NDList inputs = task.inputs(batch, IDS, MASK, null);
            float loss = trainer.accumulate(inputs, new NDList(batch.create(LABELS)), 1f);
            assertThat(loss).isFinite();
        }
        assertThat(trainer.clipGradients(1.0)).isFinite();
        trainer.update();
    }

    private static TaskModel task(NDManager manager, Composition composition) {
        Engine.getInstance().setRandomSeed(7);
        BertConfig config = BertConfig.tiny();
        PeftModel model = new PeftModel(BertModel.create(config, BertWeights.random(config, manager, 5), manager, null));
        model.addAdapter(new AdapterSpec("shifted", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("query", "value"))), composition),
                new ShiftMethod());
        ClassificationHead head = new ClassificationHead(config.hiddenSize(), List.of("no", "yes"), Pooling.MEAN, 0f).initializeIn(manager);
        return TaskModel.classification(model, head);
    }
}
