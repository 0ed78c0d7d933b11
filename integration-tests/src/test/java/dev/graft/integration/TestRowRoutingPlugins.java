package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.targeting.TargetRules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Per-row adapter routing with the real plugins on the tiny Llama: LoRA, IA³, a bottleneck adapter, prefix and prompt
 * tuning plus base rows in one batch; each row's logits equal that row run alone with only its adapter, within 1e-5.
 */
final class TestRowRoutingPlugins {
    private static final double TOLERANCE = 1e-5;
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}, {8, 9, 10, 11, 12, 13}, {0, 21, 22, 23, 24, 25},
        {30, 31, 32, 33, 34, 35}, {0, 0, 0, 41, 42, 43}, {50, 51, 52, 53, 54, 55}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 1, 1},
        {1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
    private static final List<String> ROWS = Arrays.asList("my-lora", null, "my-ia3", "my-adapter", "my-prefix", "my-prompt", null);

    @Test
    void testMixedBatchOfRealMethodsEqualsEachRowAlone() {
        Path plugins = Path.of(System.getProperty("graft.distribution", "../runtime/distribution/target/graft")).toAbsolutePath().normalize().resolve("plugins");
        MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins));
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            PeftModel model = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, modelManager, 11), modelManager, null));
            add(model, registry, "my-lora", "lora", Map.of("r", 4, "lora_alpha", 8), Map.of("target_modules", List.of("q_proj", "v_proj", "down_proj")));
            add(model, registry, "my-ia3", "ia3", Map.of(), Map.of());
            add(model, registry, "my-adapter", "adapter", Map.of("config", "pfeiffer"), Map.of());
            add(model, registry, "my-prefix", "prefix", Map.of("num_virtual_tokens", 3), Map.of());
            add(model, registry, "my-prompt", "prompt", Map.of("num_virtual_tokens", 2), Map.of());
            // most methods start as the identity (LoRA's B, IA³'s ones, the adapter's up projection): move every parameter
            long seed = 0;
            for (String name : model.adapters().keySet()) {
                for (Parameter parameter : model.adapter(name).trainableParameters()) {
                    NDArray array = parameter.getArray();
                    manager.getEngine().setRandomSeed((int) seed++);
                    array.addi(array.getManager().randomNormal(0f, 0.2f, array.getShape(), array.getDataType()));
                }
            }

            List<float[]> alone = new ArrayList<>();
            List<float[]> base = new ArrayList<>();
            for (int row = 0; row < IDS.length; row++) {
                model.setActiveAdapters(ROWS.get(row) == null ? List.of() : List.of(ROWS.get(row)));
                alone.add(logits(model, manager, new long[][] {IDS[row]}, new int[][] {MASK[row]}, null));
                model.setActiveAdapters(List.of());
                base.add(logits(model, manager, new long[][] {IDS[row]}, new int[][] {MASK[row]}, null));
            }
            float[] routed = logits(model, manager, IDS, MASK, ROWS);

            int vocabulary = config.vocabularySize();
            int perRow = IDS[0].length * vocabulary;
            for (int row = 0; row < IDS.length; row++) {
                float[] own = Arrays.copyOfRange(routed, row * perRow, (row + 1) * perRow);
                assertThat(maximumDifference(own, alone.get(row), MASK[row], vocabulary)).as("row %d (%s)", row, ROWS.get(row)).isLessThan(TOLERANCE);
                if (ROWS.get(row) != null) {
                    assertThat(maximumDifference(base.get(row), alone.get(row), MASK[row], vocabulary)).as("%s changes its row", ROWS.get(row)).isGreaterThan(1e-3);
                }
            }
        }
    }

    private static void add(PeftModel model, MethodRegistry registry, String name, String id, Map<String, Object> options, Map<String, Object> targets) {
        model.addAdapter(new AdapterSpec(name, options, TargetRules.fromConfig(targets), Composition.SUM), registry.requireMethod(id).method());
    }

    private static float[] logits(PeftModel model, NDManager manager, long[][] ids, int[][] mask, List<String> rows) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(ids), batch.create(mask));
            NDList output = rows == null ? model.forward(new ParameterStore(batch, false), inputs, false) : model.forward(new ParameterStore(batch, false), inputs, rows);
            return output.singletonOrThrow().toFloatArray();
        }
    }

    private static double maximumDifference(float[] actual, float[] expected, int[] mask, int vocabulary) {
        double largest = 0;
        for (int position = 0; position < mask.length; position++) {
            if (mask[position] == 1) {
                for (int token = 0; token < vocabulary; token++) {
                    int index = position * vocabulary + token;
                    largest = Math.max(largest, Math.abs(actual[index] - expected[index]));
                }
            }
        }
        return largest;
    }
}
