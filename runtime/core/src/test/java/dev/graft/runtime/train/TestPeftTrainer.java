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
import java.util.LinkedHashMap;
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

    @Test
    void testOneStepIsClippedAdamWWithDecoupledDecayAndNoDecayOnBiases() {
        TaskModel task = task(4);
        float learningRate = 0.01f;
        float weightDecay = 0.5f;
        PeftTrainer trainer = PeftTrainer.create(task.model(), ResettableAdamW.builder().optLearningRate(learningRate).optWeightDecays(weightDecay).build(),
                task::meanLoss, task.headParameters());
        // a non-zero head bias, so that decaying it (which must not happen) would show
        trainer.namedTrainableParameters().get("head.bias").getArray().set(new float[] {0.3f, -0.2f});
        try (NDManager batch = manager.newSubManager()) {
            trainer.accumulate(inputs(task, batch, 0, 4), labels(batch, 0, 4), 1f);
        }
        Map<String, double[]> gradients = new LinkedHashMap<>();
        Map<String, double[]> before = new LinkedHashMap<>();
        double sumOfSquares = 0;
        for (Map.Entry<String, Parameter> entry : trainer.namedTrainableParameters().entrySet()) {
            double[] gradient = widened(entry.getValue().getArray().getGradient().toFloatArray());
            for (double value : gradient) {
                sumOfSquares += value * value;
            }
            gradients.put(entry.getKey(), gradient);
            before.put(entry.getKey(), widened(entry.getValue().getArray().toFloatArray()));
        }
        double norm = Math.sqrt(sumOfSquares);
        assertThat(trainer.gradientNorm()).as("the global L2 norm over every trainable gradient").isCloseTo(norm, offset(norm * 1e-6));
        double maximumNorm = norm / 3;
        assertThat(trainer.clipGradients(maximumNorm)).isCloseTo(norm, offset(norm * 1e-6));
        trainer.update();

        // torch.optim.AdamW's first step on the clipped gradient g' = g·max/(norm + 1e-6): m̂ = g', v̂ = g'²,
        // w ← w·(1 − lr·λ) for weights only (Hugging Face leaves biases out of decay), then w ← w − lr·m̂/(√v̂ + ε)
        double factor = maximumNorm / (norm + 1e-6);
        assertThat(trainer.namedTrainableParameters().keySet()).as("the shifts at query and value of both layers (biases), and the head")
                .hasSize(2 * 2 + 2).contains("head.weight", "head.bias");
        for (Map.Entry<String, Parameter> entry : trainer.namedTrainableParameters().entrySet()) {
            String name = entry.getKey();
            boolean decays = name.equals("head.weight");
            double[] weight = before.get(name);
            double[] gradient = gradients.get(name);
            double[] expected = new double[weight.length];
            for (int index = 0; index < weight.length; index++) {
                double clipped = gradient[index] * factor;
                double moment = clipped;
                double variance = clipped * clipped;
                double decayedWeight = decays ? weight[index] * (1 - (double) learningRate * weightDecay) : weight[index];
                expected[index] = decayedWeight - learningRate * moment / (Math.sqrt(variance) + 1e-8);
            }
            float[] actual = entry.getValue().getArray().toFloatArray();
            for (int index = 0; index < actual.length; index++) {
                assertThat((double) actual[index]).as("%s[%d] after one clipped AdamW step (decay %s)", name, index, decays).isCloseTo(expected[index], offset(2e-6));
            }
        }
        assertThat(trainer.gradientNorm()).as("gradients are zeroed after the update").isZero();
    }

    private static double[] widened(float[] values) {
        double[] widened = new double[values.length];
        for (int index = 0; index < values.length; index++) {
            widened[index] = values[index];
        }
        return widened;
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
