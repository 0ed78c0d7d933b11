package dev.graft.plugin.plora;

import static dev.graft.tck.ArrayAssertions.assertClose;
import static dev.graft.tck.ArrayAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;
import dev.graft.spi.TrainingEvent;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Offloads on the conformance kit's tiny Llama, trained through {@link PeftTrainer}: the function is unchanged at
 * an offload, the adapter keeps its share, the optimizer state is reset or kept, the schedule counts samples or
 * steps, and the accumulated update exceeds rank r.
 */
final class TestPloraOffload {
    private static final String QUERY = "model.layers.0.self_attn.q_proj";
    private static final long[][] TOKEN_IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] ATTENTION_MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};

    private NDManager manager;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(1234);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testOffloadWithoutMomentumPreservesFunctionRestartsAdapterAndResetsOptimizer() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, Map.of("r", 4, "offload_unit", "steps", "offload_every", 3));
        ResettableAdamW optimizer = optimizer();
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer, Loss.l2Loss())) {
            train(trainer, 2);
            assertThat(instance(adapter).offloads()).as("no offload before step 3").isZero();
            float[] baseLogits = logitsWithoutAdapter(model);
            float[] before = logits(model);
            assertThat(maximumDifference(before, baseLogits)).as("the trained adapter must matter for this test to mean anything").isGreaterThan(1e-3);
            float[] weightBefore = weight(model, QUERY);
            float[] downBefore = parameter(adapter, QUERY, PloraModule.LORA_A_WEIGHT).getArray().toFloatArray();
            assertStepCounts(optimizer, adapter, 2, "updates before the offload");

            model.dispatch(new TrainingEvent.StepEnd(3, 6, 2), trainer.context());

            assertThat(instance(adapter).offloads()).isEqualTo(1);
            assertClose(logits(model), before, 1e-4, "logits just after the offload vs just before");
            assertThat(maximumDifference(weight(model, QUERY), weightBefore)).as("the update moved into the base weight").isGreaterThan(1e-4);
            assertThat(parameter(adapter, QUERY, PloraModule.LORA_B_WEIGHT).getArray().toFloatArray()).containsOnly(0f);
            assertThat(parameter(adapter, QUERY, PloraModule.LORA_A_WEIGHT).getArray().toFloatArray()).isNotEqualTo(downBefore);
            assertStepCounts(optimizer, adapter, 0, "updates right after the reset");
        }
    }

    @Test
    void testResetOptimizerStateRestartsTheStepCount() {
        // offload at step 2 of 3: one update since
        assertStepCountsAfterThreeSteps(Map.of("r", 4, "offload_unit", "steps", "offload_every", 2), 1);
    }

    @Test
    void testKeptOptimizerStateSurvivesTheOffload() {
        // offload at step 3 of 3: every update kept
        assertStepCountsAfterThreeSteps(Map.of("r", 4, "offload_unit", "steps", "offload_every", 3, "optimizer_state", "keep"), 3);
    }

    @Test
    void testOffloadWithMomentumFoldsTheRestAndScalesUpProjection() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, Map.of("r", 4, "offload_unit", "steps", "offload_every", 3, "momentum", 0.25));
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer(), Loss.l2Loss())) {
            train(trainer, 2);
            float[] before = logits(model);
            float[] weightBefore = weight(model, QUERY);
            float[] down = parameter(adapter, QUERY, PloraModule.LORA_A_WEIGHT).getArray().toFloatArray();
            float[] up = parameter(adapter, QUERY, PloraModule.LORA_B_WEIGHT).getArray().toFloatArray();

            model.dispatch(new TrainingEvent.StepEnd(3, 6, 2), trainer.context());

            assertClose(logits(model), before, 1e-4, "logits just after the offload vs just before");
            assertThat(parameter(adapter, QUERY, PloraModule.LORA_A_WEIGHT).getArray().toFloatArray()).containsExactly(down);
            float[] upAfter = parameter(adapter, QUERY, PloraModule.LORA_B_WEIGHT).getArray().toFloatArray();
            float[] expectedUp = new float[up.length];
            for (int index = 0; index < up.length; index++) {
                expectedUp[index] = 0.25f * up[index];
            }
            assertClose(upAfter, expectedUp, 1e-7, "B after the offload is m·B");
            // W gains (1 − m)·s·B·A with s = 8/4 = 2; q_proj is 64×64 and r = 4
            float[] expectedWeight = weightBefore.clone();
            for (int row = 0; row < 64; row++) {
                for (int column = 0; column < 64; column++) {
                    double sum = 0;
                    for (int k = 0; k < 4; k++) {
                        sum += (double) up[row * 4 + k] * down[k * 64 + column];
                    }
                    expectedWeight[row * 64 + column] += (float) (0.75 * 2 * sum);
                }
            }
            assertClose(weight(model, QUERY), expectedWeight, 1e-6, "W after the offload is W + (1 − m)·s·B·A");
        }
    }

    @Test
    void testScheduleCountsSamplesAcrossBatches() {
        PeftModel model = newModel();
        // batches of 2 samples; offload_every 3 samples: the counter crosses 3 at step 2 and 6 at step 3
        Adapter adapter = attach(model, Map.of("r", 2, "offload_every", 3));
        int[] offloadsAfterStep = new int[4];
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer(), Loss.l2Loss())) {
            for (int step = 0; step < 4; step++) {
                train(trainer, 1);
                offloadsAfterStep[step] = instance(adapter).offloads();
            }
        }
        assertThat(offloadsAfterStep).containsExactly(0, 1, 2, 2);
    }

    @Test
    void testAccumulatedUpdateExceedsTheRankAfterTwoOffloads() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, Map.of("r", 2, "offload_unit", "steps", "offload_every", 1));
        float[] initial = weight(model, QUERY);
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer(), Loss.l2Loss())) {
            train(trainer, 1);
            assertThat(rank(difference(weight(model, QUERY), initial))).as("rank of W − W0 after one offload").isEqualTo(2);
            train(trainer, 1);
        }
        assertThat(instance(adapter).offloads()).isEqualTo(2);
        assertThat(rank(difference(weight(model, QUERY), initial))).as("rank of W − W0 after two offloads of rank-2 updates").isEqualTo(4);
    }

    @Test
    void testFrozenAdapterDoesNotOffload() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, Map.of("r", 2, "offload_unit", "steps", "offload_every", 1));
        perturbUpProjections(adapter);
        model.setTrainable("default", false);
        float[] weightBefore = weight(model, QUERY);
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer(), Loss.l2Loss())) {
            model.dispatch(new TrainingEvent.StepEnd(1, 2, 2), trainer.context());
        }
        assertThat(instance(adapter).offloads()).isZero();
        assertThat(weight(model, QUERY)).containsExactly(weightBefore);
    }

    @Test
    void testOtherEventsDoNotOffload() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, Map.of("r", 2, "offload_unit", "steps", "offload_every", 1));
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer(), Loss.l2Loss())) {
            trainer.endEpoch();
            trainer.beforeSave(java.nio.file.Path.of("unused"));
        }
        assertThat(instance(adapter).offloads()).isZero();
    }

    private PeftModel newModel() {
        LlamaConfig config = LlamaConfig.tiny();
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, modelManager, 42), modelManager, null));
    }

    private static Adapter attach(PeftModel model, Map<String, Object> options) {
        TargetRules targets = TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj")));
        return model.addAdapter(new AdapterSpec("default", options, targets, Composition.SUM), new PloraMethod());
    }

    private static ResettableAdamW optimizer() {
        return ResettableAdamW.builder().optLearningRate(0.05f).build();
    }

    private static PloraInstance instance(Adapter adapter) {
        return (PloraInstance) adapter.instance();
    }

    private void train(PeftTrainer trainer, int steps) {
        for (int step = 0; step < steps; step++) {
            try (NDManager batch = manager.newSubManager()) {
                NDArray target = batch.randomNormal(0f, 1f, new Shape(2, 6, LlamaConfig.tiny().vocabularySize()), DataType.FLOAT32);
                trainer.step(inputs(batch), new NDList(target));
            }
        }
    }

    private float[] logits(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), inputs(batch), false).singletonOrThrow().toFloatArray();
        }
    }

    private float[] logitsWithoutAdapter(PeftModel model) {
        model.setActiveAdapters(List.of());
        float[] logits = logits(model);
        model.setActiveAdapters(List.of("default"));
        return logits;
    }

    private static NDList inputs(NDManager batch) {
        return new NDList(batch.create(TOKEN_IDS), batch.create(ATTENTION_MASK));
    }

    private static float[] weight(PeftModel model, String site) {
        return model.base().stateDict().get(site + ".weight").toFloatArray();
    }

    private static Parameter parameter(Adapter adapter, String site, String name) {
        return adapter.attachments().entrySet().stream()
                .filter(entry -> entry.getKey().name().equals(site))
                .findFirst().orElseThrow()
                .getValue().module().getParameters().get(name);
    }

    private static void perturbUpProjections(Adapter adapter) {
        for (Parameter parameter : adapter.trainableParameters()) {
            if (parameter.getName().equals(PloraModule.LORA_B_WEIGHT)) {
                parameter.getArray().addi(0.1f);
            }
        }
    }

    private void assertStepCountsAfterThreeSteps(Map<String, Object> options, int expected) {
        PeftModel model = newModel();
        Adapter adapter = attach(model, options);
        ResettableAdamW optimizer = optimizer();
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer, Loss.l2Loss())) {
            train(trainer, 3);
            assertThat(instance(adapter).offloads()).isEqualTo(1);
            assertStepCounts(optimizer, adapter, expected, "updates counted by the optimizer after 3 steps and 1 offload");
        }
    }

    private static void assertStepCounts(ResettableAdamW optimizer, Adapter adapter, int expected, String what) {
        for (Parameter parameter : adapter.trainableParameters()) {
            assertThat(optimizer.stepCount(parameter.getId())).as("%s of %s", what, parameter.getName()).isEqualTo(expected);
        }
    }

    private static int rank(float[] square) {
        return NumericalRank.rank(square, 64, 64, 1e-3);
    }

    private static float[] difference(float[] left, float[] right) {
        float[] difference = new float[left.length];
        for (int index = 0; index < left.length; index++) {
            difference[index] = left[index] - right[index];
        }
        return difference;
    }
}
