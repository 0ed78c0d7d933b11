package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.SourceLine;
import dev.graft.runtime.data.TokenizedExample;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.report.GateMeans;
import dev.graft.runtime.store.ShiftMethod;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.TaskModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/** The evaluator's mean gate per layer and adapter is the plain average of the gate values the model recorded, batch by batch. */
final class TestEvaluatorGates {
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();
    private static final long[][] IDS = {{1, 5, 9, 2, 6, 5}, {3, 5, 8, 9, 7, 9}, {4, 4, 2, 7, 1, 3}, {9, 8, 7, 6, 5, 4}, {2, 3, 5, 7, 11, 13}};
    private static final int BATCH = 2;

    @Test
    void testTheMeanGatePerLayerAndAdapterIsTheAverageOfTheRecordedReadings() {
        Engine.getInstance().setRandomSeed(17);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            PeftModel model = new PeftModel(LlamaForCausalLM.create(CONFIG, LlamaWeights.random(CONFIG, modelManager, 3), modelManager, null));
            model.addAdapter(new AdapterSpec("queries", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))), Composition.GATED), new ShiftMethod());
            model.addAdapter(new AdapterSpec("both", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"))), Composition.GATED),
                    new ShiftMethod());
            TaskModel task = TaskModel.causalLm(model);
            List<Example> examples = new ArrayList<>();
            for (int index = 0; index < IDS.length; index++) {
                examples.add(new Example(new SourceLine(Path.of("tiny.jsonl"), index + 1), Map.of("text", "example " + index)));
            }
            Evaluator evaluator = new Evaluator(task, (index, example) -> new TokenizedExample(index, IDS[index], null, IDS[index], -1), 0, BATCH);

            Evaluation evaluation = evaluator.evaluate(examples, manager);
            assertThat(model.isGateRecording()).as("recording is put back off after the evaluation").isFalse();

            // by hand: the same batches (no padding: every example has 6 tokens), recording on, every reading summed per (layer, adapter)
            Map<Integer, Map<String, double[]>> sums = new TreeMap<>();
            model.setGateRecording(true);
            for (int start = 0; start < IDS.length; start += BATCH) {
                int size = Math.min(BATCH, IDS.length - start);
                long[][] ids = new long[size][];
                long[][] mask = new long[size][];
                long[][] types = new long[size][];
                for (int row = 0; row < size; row++) {
                    ids[row] = IDS[start + row];
                    mask[row] = new long[] {1, 1, 1, 1, 1, 1};
                    types[row] = new long[6];
                }
                try (NDManager scope = manager.newSubManager()) {
                    task.logits(new ParameterStore(scope, false), task.inputs(scope, ids, mask, types), false);
                }
                for (GateReading reading : model.gateReadings()) {
                    assertThat(reading.values()).hasSize(size);
                    double[] sum = sums.computeIfAbsent(reading.layerIndex(), layer -> new LinkedHashMap<>()).computeIfAbsent(reading.adapter(), adapter -> new double[2]);
                    for (float value : reading.values()) {
                        sum[0] += value;
                        sum[1]++;
                    }
                }
            }
            model.setGateRecording(false);

            GateMeans means = evaluation.layerGates();
            assertThat(means.layers()).containsExactly(0, 1);
            assertThat(means.adapters()).containsExactly("queries", "both");
            assertThat(sums.get(0).get("queries")[1]).as("one site per layer, 5 examples").isEqualTo(5);
            assertThat(sums.get(0).get("both")[1]).as("two sites per layer, 5 examples").isEqualTo(10);
            for (int layer : means.layers()) {
                for (String adapter : means.adapters()) {
                    double[] sum = sums.get(layer).get(adapter);
                    assertThat(means.mean(layer, adapter).orElseThrow()).as("mean gate of %s in layer %d", adapter, layer).isCloseTo(sum[0] / sum[1], within(1e-9));
                }
            }
            assertThat(means.mean(0, "queries").orElseThrow()).as("the gates are not all alike").isNotEqualTo(means.mean(1, "queries").orElseThrow());
            // the per-adapter means agree with the per-layer ones, weighted by the readings
            for (String adapter : means.adapters()) {
                double total = 0;
                double count = 0;
                for (Map<String, double[]> row : sums.values()) {
                    total += row.get(adapter)[0];
                    count += row.get(adapter)[1];
                }
                assertThat(evaluation.gates().get(adapter)).isCloseTo(total / count, within(1e-9));
            }
        }
    }
}
