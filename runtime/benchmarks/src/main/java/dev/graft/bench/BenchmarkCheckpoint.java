package dev.graft.bench;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaWeights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * A Llama-shaped BF16 checkpoint in Hugging Face layout ({@code config.json} and one {@code model.safetensors}),
 * written without holding the model in memory: every tensor's bytes are a slice of one pool of N(0, 0.02) values,
 * as large as the largest tensor (the embedding), so generating a 1B-parameter checkpoint takes ~130 MB of direct
 * memory, not 2 GB. The values repeat across tensors; only their size and type matter to a memory measurement.
 */
final class BenchmarkCheckpoint {
    private BenchmarkCheckpoint() {}

    /** TinyLlama-1.1B's shape: hidden 2048, intermediate 5632, 22 layers, vocabulary 32000, 32 query and 4 key/value heads. */
    static LlamaConfig tinyLlamaShape() {
        return new LlamaConfig(32000, 2048, 5632, 22, 32, 4, 64, 1e-5, 10000.0, false, false, false);
    }

    /** The number of parameters of a model of {@code config}. */
    static long parameterCount(LlamaConfig config) {
        long count = 0;
        for (Shape shape : LlamaWeights.shapes(config).values()) {
            count += shape.size();
        }
        return count;
    }

    /** Writes {@code config.json} and {@code model.safetensors} (BF16) for {@code config} into {@code directory}. */
    static void write(LlamaConfig config, Path directory, long seed) {
        requireNonNull(config, "config is null");
        requireNonNull(directory, "directory is null");
        Map<String, Shape> shapes = LlamaWeights.shapes(config);
        long largest = shapes.values().stream().mapToLong(Shape::size).max().orElseThrow();
        ByteBuffer pool = bfloat16Pool(Math.toIntExact(largest), seed);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        for (Map.Entry<String, Shape> entry : shapes.entrySet()) {
            int bytes = Math.toIntExact(entry.getValue().size() * Dtype.BF16.byteSize());
            writer.add(entry.getKey(), Dtype.BF16, Arrays.stream(entry.getValue().getShape()).boxed().toList(), pool.slice(0, bytes));
        }
        try {
            Files.createDirectories(directory);
            writeConfig(config, directory.resolve("config.json"));
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot write the benchmark checkpoint's config.json in %s", directory), e);
        }
        writer.write(directory.resolve("model.safetensors"));
    }

    /** {@code count} bfloat16 values drawn from N(0, 0.02), rounded to nearest even, in a direct buffer. */
    private static ByteBuffer bfloat16Pool(int count, long seed) {
        ByteBuffer pool = ByteBuffer.allocateDirect(count * Dtype.BF16.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        Random random = new Random(seed);
        for (int index = 0; index < count; index++) {
            int bits = Float.floatToIntBits((float) (0.02 * random.nextGaussian()));
            pool.putShort(index * Short.BYTES, (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
        }
        return pool;
    }

    private static void writeConfig(LlamaConfig config, Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode node = json.createObjectNode()
                .put("model_type", "llama")
                .put("torch_dtype", "bfloat16")
                .put("vocab_size", config.vocabularySize())
                .put("hidden_size", config.hiddenSize())
                .put("intermediate_size", config.intermediateSize())
                .put("num_hidden_layers", config.numLayers())
                .put("num_attention_heads", config.numAttentionHeads())
                .put("num_key_value_heads", config.numKeyValueHeads())
                .put("head_dim", config.headDim())
                .put("rms_norm_eps", config.rmsNormEps())
                .put("rope_theta", config.ropeTheta())
                .put("tie_word_embeddings", config.tieWordEmbeddings())
                .put("hidden_act", "silu")
                .put("max_position_embeddings", 2048);
        node.putArray("architectures").add("LlamaForCausalLM");
        json.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), node);
    }
}
