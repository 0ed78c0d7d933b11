package dev.graft.runtime.format;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(PyTorchManagers.class)
final class TestShardedCheckpoint {
    private static final String FIRST_SHARD = "model-00001-of-00002.safetensors";
    private static final String SECOND_SHARD = "model-00002-of-00002.safetensors";

    @TempDir
    Path directory;

    @Test
    void testRoundTripAcrossShards(NDManager manager) throws IOException {
        writeShards(manager);
        writeIndex("{\"metadata\":{\"total_size\":40,\"format\":\"pt\"},\"weight_map\":{"
                + "\"lm_head.weight\":\"" + SECOND_SHARD + "\","
                + "\"model.layers.0.self_attn.q_proj.weight\":\"" + FIRST_SHARD + "\","
                + "\"model.embed_tokens.weight\":\"" + FIRST_SHARD + "\"}}");

        try (Checkpoint checkpoint = Checkpoints.open(directory)) {
            assertThat(checkpoint).isInstanceOf(ShardedCheckpoint.class);
            ShardedCheckpoint sharded = (ShardedCheckpoint) checkpoint;
            assertThat(sharded.names()).containsExactly("lm_head.weight", "model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight");
            assertThat(sharded.shards()).containsExactly(directory.resolve(SECOND_SHARD), directory.resolve(FIRST_SHARD));
            assertThat(sharded.shardOf("model.embed_tokens.weight")).isEqualTo(directory.resolve(FIRST_SHARD));
            assertThat(sharded.metadata()).containsExactly(Map.entry("total_size", "40"), Map.entry("format", "pt"));
            assertThat(sharded.info("lm_head.weight").shape()).containsExactly(2L, 2L);
            assertThat(sharded.load("lm_head.weight", manager).toFloatArray()).containsExactly(5f, 6f, 7f, 8f);
            assertThat(sharded.load("model.layers.0.self_attn.q_proj.weight", manager, DataType.FLOAT64).toDoubleArray()).containsExactly(1, 2, 3, 4);
            assertThat(sharded.data("model.embed_tokens.weight").getFloat(4)).isEqualTo(-1f);
            assertThat(sharded.contains("model.norm.weight")).isFalse();
        }
    }

    @Test
    void testMissingShardIsNamedWhenOpening(NDManager manager) throws IOException {
        writeShards(manager);
        Files.delete(directory.resolve(SECOND_SHARD));
        Path index = writeIndex("{\"weight_map\":{\"lm_head.weight\":\"" + SECOND_SHARD + "\",\"model.embed_tokens.weight\":\"" + FIRST_SHARD + "\"}}");

        assertThatThrownBy(() -> Checkpoints.open(directory))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Invalid checkpoint index " + index + ": shard files [" + SECOND_SHARD + "] are missing from " + directory
                        + "; download or copy the complete checkpoint");
    }

    @Test
    void testTensorAbsentFromItsMappedShard(NDManager manager) throws IOException {
        writeShards(manager);
        Path index = writeIndex("{\"weight_map\":{\"lm_head.weight\":\"" + FIRST_SHARD + "\",\"model.embed_tokens.weight\":\"" + FIRST_SHARD + "\"}}");

        try (ShardedCheckpoint sharded = ShardedCheckpoint.open(index)) {
            assertThatThrownBy(() -> sharded.load("model.embed_tokens.weight", manager))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessage("Invalid checkpoint index " + index + ": it maps [lm_head.weight] to shard " + FIRST_SHARD
                            + ", which does not contain it; the index and the shards do not belong together, re-download or re-save the checkpoint");
        }
    }

    @Test
    void testShardsOpenOnlyWhenUsed(NDManager manager) throws IOException {
        writeShards(manager);
        Files.write(directory.resolve(SECOND_SHARD), new byte[] {1, 2, 3});
        Path index = writeIndex("{\"weight_map\":{\"lm_head.weight\":\"" + SECOND_SHARD + "\",\"model.embed_tokens.weight\":\"" + FIRST_SHARD + "\"}}");

        try (ShardedCheckpoint sharded = ShardedCheckpoint.open(index)) {
            assertThat(sharded.load("model.embed_tokens.weight", manager).toFloatArray()).containsExactly(0f, -1f);
            assertThatThrownBy(() -> sharded.info("lm_head.weight"))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessageStartingWith("Invalid safetensors file " + directory.resolve(SECOND_SHARD) + ": the file is 3 bytes");
        }
    }

    @Test
    void testMalformedIndexes(NDManager manager, @TempDir Path elsewhere) throws IOException {
        writeShards(manager);
        assertInvalidIndex("{\"weight_map\":", "it is not valid JSON");
        assertInvalidIndex("{\"metadata\":{}}", "weight_map must be a JSON object from tensor name to shard file name, found nothing");
        assertInvalidIndex("{\"weight_map\":{}}", "weight_map is empty");
        assertInvalidIndex("{\"weight_map\":{\"w\":3}}", "weight_map entry 'w' must be a shard file name, found 3");
        assertInvalidIndex("{\"weight_map\":{\"w\":\"../elsewhere.safetensors\"}}",
                "weight_map entry 'w' names '../elsewhere.safetensors', which is not a file in the index's directory");
        assertInvalidIndex("{\"weight_map\":{\"w\":\"/etc/passwd\"}}",
                "weight_map entry 'w' names '/etc/passwd', which is not a file in the index's directory (shard file '/etc/passwd' cannot be used in folder");
        Path outside = elsewhere.resolve(FIRST_SHARD);
        Files.copy(directory.resolve(FIRST_SHARD), outside);
        Files.createSymbolicLink(directory.resolve("linked.safetensors"), outside);
        assertInvalidIndex("{\"weight_map\":{\"w\":\"linked.safetensors\"}}",
                "weight_map entry 'w' names 'linked.safetensors', which is not a file in the index's directory (shard file 'linked.safetensors' in folder "
                        + directory.toAbsolutePath() + " is a symbolic link to " + outside.toRealPath() + ", outside the folder");
        assertInvalidIndex("{\"metadata\":{\"total_size\":{\"a\":1}},\"weight_map\":{\"w\":\"" + FIRST_SHARD + "\"}}",
                "metadata value of key 'total_size' must be a string or a number, found OBJECT");
    }

    @Test
    void testUnknownTensor(NDManager manager) throws IOException {
        writeShards(manager);
        Path index = writeIndex("{\"weight_map\":{\"model.embed_tokens.weight\":\"" + FIRST_SHARD + "\"}}");

        try (ShardedCheckpoint sharded = ShardedCheckpoint.open(index)) {
            assertThatThrownBy(() -> sharded.load("lm_head.weight", manager))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessage("Checkpoint index " + index + " maps no tensor 'lm_head.weight'; it maps 1 tensors, for example: model.embed_tokens.weight");
        }
    }

    @Test
    void testSingleFileIsPreferredOverAnIndex(NDManager manager) throws IOException {
        writeShards(manager);
        writeIndex("{\"weight_map\":{\"lm_head.weight\":\"" + SECOND_SHARD + "\"}}");
        new SafetensorsWriter().add("single", manager.create(new int[] {9})).write(directory.resolve(Checkpoints.SINGLE_FILE));

        try (Checkpoint checkpoint = Checkpoints.open(directory)) {
            assertThat(checkpoint).isInstanceOf(SafetensorsFile.class);
            assertThat(checkpoint.names()).containsExactly("single");
        }
    }

    @Test
    void testDirectoryWithoutCheckpoint() throws IOException {
        Files.writeString(directory.resolve("config.json"), "{}");
        Files.writeString(directory.resolve("pytorch_model.bin"), "");

        assertThatThrownBy(() -> Checkpoints.open(directory))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Model directory " + directory + " has neither model.safetensors nor model.safetensors.index.json; it holds [config.json, pytorch_model.bin]."
                        + " Save the model with safe_serialization=True or convert it to safetensors");
        assertThatThrownBy(() -> Checkpoints.open(directory.resolve("absent")))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Model directory " + directory.resolve("absent") + " does not exist or is not a directory");
    }

    private void writeShards(NDManager manager) {
        new SafetensorsWriter()
                .add("model.embed_tokens.weight", manager.create(new float[] {0, -1}))
                .add("model.layers.0.self_attn.q_proj.weight", manager.create(new float[] {1, 2, 3, 4}))
                .write(directory.resolve(FIRST_SHARD));
        new SafetensorsWriter()
                .add("lm_head.weight", manager.create(new float[] {5, 6, 7, 8}).reshape(2, 2))
                .write(directory.resolve(SECOND_SHARD));
    }

    private Path writeIndex(String json) throws IOException {
        return Files.writeString(directory.resolve(Checkpoints.INDEX_FILE), json);
    }

    private void assertInvalidIndex(String json, String problem) throws IOException {
        Path index = writeIndex(json);
        assertThatThrownBy(() -> ShardedCheckpoint.open(index).close())
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith("Invalid checkpoint index " + index + ": " + problem);
    }
}
