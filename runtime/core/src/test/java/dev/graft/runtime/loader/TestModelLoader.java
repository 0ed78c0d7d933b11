package dev.graft.runtime.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.model.RopeScaling;
import dev.graft.runtime.model.TransformerModel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestModelLoader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long[][] LLAMA_IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] LLAMA_MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long[][] BERT_IDS = {{2, 17, 99, 3, 42, 1}, {2, 64, 12, 1, 0, 0}};
    private static final int[][] BERT_MASK = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
    private static final long[][] BERT_TYPES = {{0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 0, 0}};

    @Test
    void testTinyLlamaLoadsFromHuggingFaceLayoutAndComputesTheSameLogits(@TempDir Path directory) throws IOException {
        LlamaConfig config = new LlamaConfig(128, 64, 128, 2, 4, 2, 16, 1e-6, 10000.0, false, false, false, RopeScaling.llama3(8.0, 1.0, 4.0, 64));
        ObjectNode json = llamaJson("llama");
        json.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
                .put("original_max_position_embeddings", 64);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = LlamaWeights.random(config, manager, 5);
            save(directory, json, weights);
            float[] expected = logits(LlamaForCausalLM.create(config, weights, manager, null), manager);
            try (NDManager loadManager = NDManager.newBaseManager(); LoadedModel loaded = ModelLoader.load(directory, loadManager)) {
                assertThat(((LlamaForCausalLM) loaded.model()).config()).isEqualTo(config);
                assertThat(loaded.tokenizer()).isEmpty();
                assertThat(logits(loaded.model(), loadManager)).containsExactly(expected);
            }
        }
    }

    @Test
    void testMistralStyleLlamaWithTiedEmbeddingsIgnoresTheStoredHead(@TempDir Path directory) throws IOException {
        LlamaConfig config = new LlamaConfig(128, 64, 128, 1, 4, 4, 16, 1e-5, 1e6, true, false, false);
        ObjectNode json = llamaJson("mistral").put("num_hidden_layers", 1).put("num_key_value_heads", 4).put("rms_norm_eps", 1e-5).put("rope_theta", 1e6)
                .put("tie_word_embeddings", true).putNull("sliding_window").put("attention_dropout", 0.25);
        json.remove("head_dim");
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = LlamaWeights.random(config, manager, 6);
            Map<String, NDArray> stored = new LinkedHashMap<>(weights);
            stored.put("lm_head.weight", weights.get("model.embed_tokens.weight"));
            save(directory, json, stored);
            float[] expected = logits(LlamaForCausalLM.create(config, weights, manager, null), manager);
            try (NDManager loadManager = NDManager.newBaseManager(); LoadedModel loaded = ModelLoader.load(directory, loadManager)) {
                // attention_dropout applies in training only: the inference logits are the same
                assertThat(((LlamaForCausalLM) loaded.model()).config()).isEqualTo(config.withAttentionDropout(0.25));
                assertThat(logits(loaded.model(), loadManager)).containsExactly(expected);
            }
        }
    }

    @Test
    void testBertWithHeadsLoadsItsEncoderAndTokenizer(@TempDir Path directory) throws IOException {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = BertWeights.random(config, manager, 8);
            Map<String, NDArray> stored = new LinkedHashMap<>();
            weights.forEach((key, value) -> stored.put("bert." + key.replace("embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"), value));
            stored.put("bert.embeddings.position_ids", manager.arange(40L).reshape(1, 40));
            stored.put("cls.predictions.bias", manager.zeros(new ai.djl.ndarray.types.Shape(100)));
            save(directory, bertJson().put("attention_probs_dropout_prob", 0.25), stored);
            try (InputStream tokenizer = getClass().getClassLoader().getResourceAsStream(MiniLm.TOKENIZER_RESOURCE)) {
                Files.copy(tokenizer, directory.resolve("tokenizer.json"));
            }
            NDList expected = bertOutputs(BertModel.create(config, weights, manager, null), manager);
            try (NDManager loadManager = NDManager.newBaseManager(); LoadedModel loaded = ModelLoader.load(directory, loadManager)) {
                // hidden_dropout_prob is absent: Hugging Face's default 0.1
                assertThat(((BertModel) loaded.model()).config()).isEqualTo(config.withDropout(0.1, 0.25));
                NDList actual = bertOutputs(loaded.model(), loadManager);
                assertThat(actual.get(0).toFloatArray()).containsExactly(expected.get(0).toFloatArray());
                assertThat(actual.get(1).toFloatArray()).containsExactly(expected.get(1).toFloatArray());
                assertThat(loaded.tokenizer()).isPresent();
                assertThat(loaded.model().context().tokenize("Hello world")).containsExactly(7592, 2088);
            }
        }
    }

    @Test
    void testHalfPrecisionCheckpointsAreWidenedOrKept(@TempDir Path directory) throws IOException {
        BertConfig config = BertConfig.tiny().withPoolingLayer(false);
        Path bfloat = Files.createDirectory(directory.resolve("bf16"));
        Path half = Files.createDirectory(directory.resolve("f16"));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = BertWeights.random(config, manager, 10);
            save(bfloat, bertJson(), weights, Dtype.BF16);
            save(half, bertJson(), weights, Dtype.F16);
            Map<String, NDArray> rounded = new LinkedHashMap<>();
            weights.forEach((key, value) -> rounded.put(key, manager.create(toBfloat16(value.toFloatArray()), value.getShape())));
            NDList expected = bertOutputs(BertModel.create(config, rounded, manager, null), manager);
            try (NDManager loadManager = NDManager.newBaseManager()) {
                TransformerModel widened = ModelLoader.load(bfloat, loadManager).model();
                assertThat(widened.stateDict().values()).allMatch(array -> array.getDataType() == DataType.FLOAT32);
                assertThat(bertOutputs(widened, loadManager).get(0).toFloatArray()).containsExactly(expected.get(0).toFloatArray());
                assertThat(ModelLoader.load(bfloat, loadManager, WeightPrecision.AS_STORED).model().stateDict().values())
                        .as("DJL's PyTorch engine cannot hold BF16, so it stays float32").allMatch(array -> array.getDataType() == DataType.FLOAT32);

                TransformerModel kept = ModelLoader.load(half, loadManager, WeightPrecision.AS_STORED).model();
                assertThat(kept.stateDict().values()).allMatch(array -> array.getDataType() == DataType.FLOAT16);
                TransformerModel single = ModelLoader.load(half, loadManager).model();
                assertThat(single.stateDict().values()).allMatch(array -> array.getDataType() == DataType.FLOAT32);
                NDArray halfOutput = bertOutputs(kept, loadManager).get(0);
                assertThat(halfOutput.getDataType()).isEqualTo(DataType.FLOAT16);
                float[] fromHalf = halfOutput.toType(DataType.FLOAT32, false).toFloatArray();
                float[] fromSingle = bertOutputs(single, loadManager).get(0).toFloatArray();
                double maximum = 0;
                for (int index = 0; index < fromHalf.length; index++) {
                    maximum = Math.max(maximum, Math.abs(fromHalf[index] - fromSingle[index]));
                }
                assertThat(maximum).as("float16 forward against float32 forward of the same F16 weights").isLessThan(2e-2);
            }
        }
    }

    @Test
    void testHalfPrecisionLlamaRunsWithLeftPadding(@TempDir Path directory) throws IOException {
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            save(directory, llamaJson("llama"), LlamaWeights.random(config, manager, 12), Dtype.F16);
            try (NDManager loadManager = NDManager.newBaseManager()) {
                TransformerModel kept = ModelLoader.load(directory, loadManager, WeightPrecision.AS_STORED).model();
                assertThat(kept.stateDict().values()).allMatch(array -> array.getDataType() == DataType.FLOAT16);
                NDArray halfLogits = kept.forward(new ParameterStore(loadManager, false), new NDList(loadManager.create(LLAMA_IDS), loadManager.create(LLAMA_MASK)), false)
                        .singletonOrThrow();
                assertThat(halfLogits.getDataType()).isEqualTo(DataType.FLOAT16);
                float[] fromHalf = halfLogits.toType(DataType.FLOAT32, false).toFloatArray();
                float[] fromSingle = logits(ModelLoader.load(directory, loadManager).model(), loadManager);
                assertThat(maximumLogitDifference(fromHalf, fromSingle, config)).as("float16 forward against float32 forward of the same F16 weights").isLessThan(2e-2);
            }
        }
    }

    @Test
    void testHalfStoresBfloat16AndFloat32CheckpointsAsFloat16(@TempDir Path directory) throws IOException {
        LlamaConfig config = LlamaConfig.tiny();
        Path bfloat = Files.createDirectory(directory.resolve("bf16"));
        Path single = Files.createDirectory(directory.resolve("f32"));
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = LlamaWeights.random(config, manager, 14);
            save(bfloat, llamaJson("llama"), weights, Dtype.BF16);
            save(single, llamaJson("llama"), weights);
            try (NDManager loadManager = NDManager.newBaseManager()) {
                Map<String, NDArray> widened = ModelLoader.load(bfloat, loadManager).model().stateDict();
                TransformerModel half = ModelLoader.load(bfloat, loadManager, WeightPrecision.HALF).model();
                assertThat(half.stateDict().values()).allMatch(array -> array.getDataType() == DataType.FLOAT16);
                int subnormal = 0;
                for (Map.Entry<String, NDArray> entry : half.stateDict().entrySet()) {
                    float[] rounded = entry.getValue().toType(DataType.FLOAT32, false).toFloatArray();
                    float[] exact = widened.get(entry.getKey()).toFloatArray();
                    for (int index = 0; index < exact.length; index++) {
                        if (Math.abs(exact[index]) >= 0x1p-14f) {
                            assertThat(rounded[index]).as("%s[%d], in float16's normal range", entry.getKey(), index).isEqualTo(exact[index]);
                        }
                        else {
                            subnormal++;
                            assertThat(Math.abs(rounded[index] - exact[index])).as("%s[%d], a float16 subnormal", entry.getKey(), index).isLessThanOrEqualTo(0x1p-25f);
                        }
                    }
                }
                assertThat(subnormal).as("weights below 2^-14, which lose bits").isPositive();
                NDArray halfLogits = half.forward(new ParameterStore(loadManager, false), new NDList(loadManager.create(LLAMA_IDS), loadManager.create(LLAMA_MASK)), false)
                        .singletonOrThrow();
                assertThat(halfLogits.getDataType()).isEqualTo(DataType.FLOAT16);
                assertThat(maximumLogitDifference(halfLogits.toType(DataType.FLOAT32, false).toFloatArray(), logits(ModelLoader.load(bfloat, loadManager).model(), loadManager), config))
                        .as("float16 forward of the BF16 checkpoint against its float32 forward").isLessThan(2e-2);

                Map<String, NDArray> fromSingle = ModelLoader.load(single, loadManager, WeightPrecision.HALF).model().stateDict();
                for (Map.Entry<String, NDArray> entry : fromSingle.entrySet()) {
                    assertThat(entry.getValue().getDataType()).isEqualTo(DataType.FLOAT16);
                    assertThat(entry.getValue().toByteBuffer()).as("%s rounded in Java, as PyTorch rounds", entry.getKey())
                            .isEqualTo(weights.get(entry.getKey()).toType(DataType.FLOAT16, false).toByteBuffer());
                }
            }
        }
    }

    @Test
    void testHalfRefusesWeightsBeyondFloat16(@TempDir Path directory) throws IOException {
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = new LinkedHashMap<>(LlamaWeights.random(config, manager, 15));
            weights.put("model.norm.weight", manager.ones(new Shape(config.hiddenSize())).mul(70000f));
            save(directory, llamaJson("llama"), weights, Dtype.BF16);
            assertOneLine(() -> ModelLoader.load(directory, manager, WeightPrecision.HALF), "Cannot load tensor 'model.norm.weight' of "
                    + directory.resolve("model.safetensors") + " as FLOAT16: element 0 of shape [64] is 70144.0 (BF16), beyond float16's largest finite value ±65504; "
                    + "load it as float32 instead");
            assertThat(ModelLoader.load(directory, manager).model().stateDict().get("model.norm.weight").toFloatArray()).contains(70144f);
        }
    }

    @Test
    void testBadDirectoriesFailWithOneLine(@TempDir Path directory) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            Path absent = directory.resolve("absent");
            assertOneLine(() -> ModelLoader.load(absent, manager), "model directory " + absent + " does not exist or is not a directory");
            assertOneLine(() -> ModelLoader.load(directory, manager), directory + " has no config.json: a Hugging Face model directory holds config.json, "
                    + "model.safetensors (or its index) and, optionally, tokenizer.json");
            Path config = directory.resolve("config.json");
            Files.writeString(config, "{\"model_type\": \"llama\",");
            assertThatThrownBy(() -> ModelLoader.load(directory, manager)).isInstanceOf(ModelLoadException.class)
                    .hasMessageStartingWith(config + " is not valid JSON: ").hasMessageNotContaining("\n");
            Files.writeString(config, "{\"hidden_size\": 64}");
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " has no 'model_type': is this a Hugging Face transformers model directory?");
            Files.writeString(config, "{\"model_type\": \"gpt2\"}");
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " has model_type 'gpt2', which Graft cannot load; it loads [llama, mistral, bert]");
            write(config, llamaJson("llama").put("hidden_size", "64"));
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " field 'hidden_size' must be an integer, found \"64\"");
            ObjectNode noHeads = llamaJson("llama");
            noHeads.remove("num_attention_heads");
            write(config, noHeads);
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " has no 'num_attention_heads', which a llama model needs");
            ObjectNode dynamic = llamaJson("llama");
            dynamic.putObject("rope_scaling").put("type", "dynamic").put("factor", 2.0);
            write(config, dynamic);
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " has rope_scaling type 'dynamic', which Graft does not implement; it implements linear and llama3");
            write(config, bertJson().put("hidden_act", "relu"));
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " has hidden_act 'relu'; Graft's BERT uses the exact gelu");
            write(config, llamaJson("llama").put("num_key_value_heads", 3));
            assertOneLine(() -> ModelLoader.load(directory, manager), config + " describes an invalid model: num_attention_heads (4) must be a multiple of num_key_value_heads (3)");
            write(config, llamaJson("llama"));
            assertThatThrownBy(() -> ModelLoader.load(directory, manager)).isInstanceOf(ModelLoadException.class)
                    .hasMessageStartingWith("Model directory " + directory + " has neither model.safetensors nor model.safetensors.index.json").hasMessageNotContaining("\n");
        }
    }

    @Test
    void testMissingWeightIsNamed(@TempDir Path directory) throws IOException {
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = new LinkedHashMap<>(LlamaWeights.random(config, manager, 1));
            weights.remove("model.layers.1.mlp.up_proj.weight");
            save(directory, llamaJson("llama"), weights);
            assertOneLine(() -> ModelLoader.load(directory, manager), "cannot load the llama model in " + directory
                    + ": Llama checkpoint is missing weight 'model.layers.1.mlp.up_proj.weight' (expected shape (128, 64))");
        }
    }

    private static void assertOneLine(Runnable load, String message) {
        assertThatThrownBy(load::run).isInstanceOf(ModelLoadException.class).hasMessage(message).hasMessageNotContaining("\n");
    }

    private static ObjectNode llamaJson(String modelType) {
        return JSON.createObjectNode().put("model_type", modelType).put("vocab_size", 128).put("hidden_size", 64).put("intermediate_size", 128)
                .put("num_hidden_layers", 2).put("num_attention_heads", 4).put("num_key_value_heads", 2).put("head_dim", 16).put("rms_norm_eps", 1e-6)
                .put("rope_theta", 10000.0).put("tie_word_embeddings", false).put("hidden_act", "silu").put("torch_dtype", "float32");
    }

    private static ObjectNode bertJson() {
        return JSON.createObjectNode().put("model_type", "bert").put("vocab_size", 100).put("hidden_size", 32).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("intermediate_size", 64).put("max_position_embeddings", 40).put("type_vocab_size", 2)
                .put("layer_norm_eps", 1e-12).put("hidden_act", "gelu").put("position_embedding_type", "absolute");
    }

    private static void write(Path file, ObjectNode json) throws IOException {
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), json);
    }

    private static void save(Path directory, ObjectNode json, Map<String, NDArray> weights) throws IOException {
        write(directory.resolve("config.json"), json);
        SafetensorsWriter writer = new SafetensorsWriter();
        weights.forEach(writer::add);
        writer.write(directory.resolve("model.safetensors"));
    }

    private static void save(Path directory, ObjectNode json, Map<String, NDArray> weights, Dtype storedAs) throws IOException {
        write(directory.resolve("config.json"), json);
        SafetensorsWriter writer = new SafetensorsWriter();
        weights.forEach((key, value) -> writer.add(key, value, storedAs));
        writer.write(directory.resolve("model.safetensors"));
    }

    /** Float32 rounded to bfloat16 (to nearest, ties to even) and back. */
    private static float[] toBfloat16(float[] values) {
        float[] rounded = new float[values.length];
        for (int index = 0; index < values.length; index++) {
            int bits = Float.floatToIntBits(values[index]);
            int upper = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
            rounded[index] = Float.intBitsToFloat(upper << 16);
        }
        return rounded;
    }

    /** The largest difference between two Llama outputs over the real (unmasked) tokens; every logit of {@code half} must be finite. */
    private static double maximumLogitDifference(float[] half, float[] single, LlamaConfig config) {
        double maximum = 0;
        for (int example = 0; example < LLAMA_IDS.length; example++) {
            for (int position = 0; position < LLAMA_IDS[0].length; position++) {
                for (int token = 0; token < config.vocabularySize(); token++) {
                    int index = (example * LLAMA_IDS[0].length + position) * config.vocabularySize() + token;
                    assertThat(half[index]).as("logit [%d][%d][%d]", example, position, token).isFinite();
                    if (LLAMA_MASK[example][position] == 1) {
                        maximum = Math.max(maximum, Math.abs(half[index] - single[index]));
                    }
                }
            }
        }
        return maximum;
    }

    private static float[] logits(TransformerModel model, NDManager manager) {
        return model.forward(new ParameterStore(manager, false), new NDList(manager.create(LLAMA_IDS), manager.create(LLAMA_MASK)), false)
                .singletonOrThrow().toFloatArray();
    }

    private static NDList bertOutputs(TransformerModel model, NDManager manager) {
        return model.forward(new ParameterStore(manager, false), new NDList(manager.create(BERT_IDS), manager.create(BERT_MASK), manager.create(BERT_TYPES)), false);
    }
}
