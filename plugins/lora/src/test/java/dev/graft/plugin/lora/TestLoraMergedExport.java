package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.MergedExport;
import dev.graft.runtime.store.StoreException;
import dev.graft.runtime.targeting.TargetRules;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A merged export is a plain HF checkpoint that reproduces the unmerged adapter's outputs. */
final class TestLoraMergedExport {
    @TempDir
    Path directory;

    @Test
    void testExportedCheckpointEqualsUnmergedAdapter() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 9), manager, null));
            Adapter adapter = model.addAdapter(new AdapterSpec("default", Map.of("r", 4, "lora_alpha", 16),
                    TargetRules.fromConfig(Map.of("target_modules", "all-linear")), Composition.SUM), new LoraMethod());
            adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(0f, 0.1f, parameter.getArray().getShape(), parameter.getArray().getDataType())));
            float[] unmerged = logits(model, manager);
            Map<String, float[]> baseBefore = new LinkedHashMap<>();
            model.base().stateDict().forEach((key, value) -> baseBefore.put(key, value.toFloatArray()));

            Path output = directory.resolve("merged");
            MergedExport.export(model, List.of("default"), Map.of("model_type", "llama", "hidden_size", 64), Dtype.F32, List.of(), output);

            assertThat(output.resolve(MergedExport.CONFIG_FILE)).content().contains("\"torch_dtype\" : \"float32\"").contains("\"model_type\" : \"llama\"");
            Map<String, NDArray> exported = new LinkedHashMap<>();
            try (SafetensorsFile file = SafetensorsFile.open(output.resolve(MergedExport.WEIGHTS_FILE))) {
                assertThat(file.names()).containsExactlyInAnyOrderElementsOf(LlamaWeights.shapes(LlamaConfig.tiny()).keySet());
                for (String name : file.names()) {
                    exported.put(name, file.load(name, manager));
                }
            }
            PeftModel reloaded = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), exported, manager, null));
            float[] merged = logits(reloaded, manager);
            for (int index = 0; index < merged.length; index++) {
                assertThat(merged[index]).isCloseTo(unmerged[index], offset(1e-4f));
            }
            model.base().stateDict().forEach((key, value) -> {
                float[] restored = value.toFloatArray();
                for (int index = 0; index < restored.length; index++) {
                    assertThat(restored[index]).as("%s[%d] is unmerged again", key, index).isCloseTo(baseBefore.get(key)[index], offset(1e-6f));
                }
            });
            assertThat(adapter.isMerged()).isFalse();

            assertThatThrownBy(() -> MergedExport.export(model, List.of("default"), Map.of(), Dtype.F32, List.of(), output))
                    .isInstanceOf(StoreException.class).hasMessageContaining("exists and is not empty");
            try (java.util.stream.Stream<Path> entries = Files.list(directory)) {
                assertThat(entries.map(path -> path.getFileName().toString())).containsExactly("merged");
            }
        }
    }

    private static float[] logits(PeftModel model, NDManager manager) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(new long[][] {{7, 8, 9, 10, 11}})), false).singletonOrThrow().toFloatArray();
        }
    }
}
