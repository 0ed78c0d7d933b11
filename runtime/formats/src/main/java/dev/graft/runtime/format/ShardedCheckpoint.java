package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.error.SafeNames;
import dev.graft.runtime.error.UnsafePathException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * A checkpoint split over several safetensors files by a Hugging Face index
 * ({@code model.safetensors.index.json}):
 * {@code {"metadata": {"total_size": ...}, "weight_map": {"tensor": "model-00001-of-00002.safetensors", ...}}}.
 *
 * <p>{@link #open} reads the index and checks that every shard it names is a file in the index's
 * directory ({@link SafeNames}: no {@code ../}, no absolute path, no symbolic link leading elsewhere). Shards are
 * opened when one of their tensors is first asked for; on opening, every tensor the index maps to the shard must be in it. Tensors a shard holds but the index does not map are not exposed.
 */
public final class ShardedCheckpoint implements Checkpoint {
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());

    private final Path indexFile;
    private final Map<String, Path> weightMap;
    private final Map<String, String> metadata;
    private final Map<Path, SafetensorsFile> openShards = new HashMap<>();
    private boolean closed;

    private ShardedCheckpoint(Path indexFile, Map<String, Path> weightMap, Map<String, String> metadata) {
        this.indexFile = requireNonNull(indexFile, "indexFile is null");
        this.weightMap = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(weightMap, "weightMap is null")));
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(metadata, "metadata is null")));
    }

    /**
     * Reads the index {@code indexFile} and checks that the shards it names exist.
     *
     * @throws SafetensorsException if the index cannot be read, is malformed, or names missing shards
     */
    public static ShardedCheckpoint open(Path indexFile) {
        requireNonNull(indexFile, "indexFile is null");
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(indexFile));
        }
        catch (JsonProcessingException e) {
            throw invalidIndex(indexFile, "it is not valid JSON: %s", e.getOriginalMessage());
        }
        catch (IOException e) {
            throw new SafetensorsException(format("Cannot read checkpoint index %s: %s", indexFile, e), e);
        }
        if (root == null || !root.isObject()) {
            throw invalidIndex(indexFile, "it must be a JSON object with a weight_map");
        }
        Path directory = indexFile.toAbsolutePath().getParent();
        Map<String, Path> weightMap = parseWeightMap(indexFile, directory, root.get("weight_map"));
        List<String> missing = new ArrayList<>();
        for (Path shard : new LinkedHashSet<>(weightMap.values())) {
            if (!Files.isRegularFile(shard)) {
                missing.add(shard.getFileName().toString());
            }
        }
        if (!missing.isEmpty()) {
            throw invalidIndex(indexFile, "shard files %s are missing from %s; download or copy the complete checkpoint", missing, directory);
        }
        return new ShardedCheckpoint(indexFile, weightMap, parseMetadata(indexFile, root.get("metadata")));
    }

    private static Map<String, Path> parseWeightMap(Path indexFile, Path directory, JsonNode node) {
        if (node == null || !node.isObject()) {
            throw invalidIndex(indexFile, "weight_map must be a JSON object from tensor name to shard file name, found %s",
                    node == null ? "nothing" : node.getNodeType());
        }
        Map<String, Path> weightMap = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> entries = node.fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            if (!entry.getValue().isTextual()) {
                throw invalidIndex(indexFile, "weight_map entry '%s' must be a shard file name, found %s", entry.getKey(), entry.getValue());
            }
            Path shard;
            try {
                shard = SafeNames.child(directory, entry.getValue().textValue(), "shard file").normalize();
            }
            catch (UnsafePathException e) {
                throw invalidIndex(indexFile, "weight_map entry '%s' names '%s', which is not a file in the index's directory (%s)",
                        entry.getKey(), entry.getValue().textValue(), e.getMessage());
            }
            weightMap.put(entry.getKey(), shard);
        }
        if (weightMap.isEmpty()) {
            throw invalidIndex(indexFile, "weight_map is empty");
        }
        return weightMap;
    }

    private static Map<String, String> parseMetadata(Path indexFile, JsonNode node) {
        Map<String, String> metadata = new LinkedHashMap<>();
        if (node == null || node.isNull()) {
            return metadata;
        }
        if (!node.isObject()) {
            throw invalidIndex(indexFile, "metadata must be a JSON object, found %s", node.getNodeType());
        }
        Iterator<Map.Entry<String, JsonNode>> entries = node.fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            JsonNode value = entry.getValue();
            if (!value.isValueNode()) {
                throw invalidIndex(indexFile, "metadata value of key '%s' must be a string or a number, found %s", entry.getKey(), value.getNodeType());
            }
            metadata.put(entry.getKey(), value.asText());
        }
        return metadata;
    }

    /** The index file this was opened from. */
    public Path indexFile() {
        return indexFile;
    }

    /** The shard files, in the order the weight map first names them. */
    public List<Path> shards() {
        return List.copyOf(new LinkedHashSet<>(weightMap.values()));
    }

    /**
     * The shard file that holds tensor {@code name}.
     *
     * @throws SafetensorsException if the index maps no tensor of that name
     */
    public Path shardOf(String name) {
        requireNonNull(name, "name is null");
        Path shard = weightMap.get(name);
        if (shard == null) {
            throw new SafetensorsException(format("Checkpoint index %s maps no tensor '%s'; it maps %d tensors%s",
                    indexFile, name, weightMap.size(), SafetensorsFile.examples(weightMap.keySet())));
        }
        return shard;
    }

    /** The weight map's tensor names, in index order. */
    @Override
    public List<String> names() {
        return List.copyOf(weightMap.keySet());
    }

    @Override
    public boolean contains(String name) {
        return weightMap.containsKey(requireNonNull(name, "name is null"));
    }

    @Override
    public TensorInfo info(String name) {
        return shardFor(name).info(name);
    }

    /** The index's {@code metadata}, values as text (HF writes {@code total_size} as a number). */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public ByteBuffer data(String name) {
        return shardFor(name).data(name);
    }

    @Override
    public NDArray load(String name, NDManager manager) {
        return shardFor(name).load(name, manager);
    }

    @Override
    public NDArray load(String name, NDManager manager, DataType target) {
        return shardFor(name).load(name, manager, target);
    }

    @Override
    public synchronized void close() {
        closed = true;
        SafetensorsException failure = null;
        for (SafetensorsFile shard : openShards.values()) {
            try {
                shard.close();
            }
            catch (SafetensorsException e) {
                if (failure == null) {
                    failure = e;
                }
                else {
                    failure.addSuppressed(e);
                }
            }
        }
        openShards.clear();
        if (failure != null) {
            throw failure;
        }
    }

    private synchronized SafetensorsFile shardFor(String name) {
        Path shardPath = shardOf(name);
        if (closed) {
            throw new IllegalStateException(format("Checkpoint %s is closed", indexFile));
        }
        SafetensorsFile shard = openShards.get(shardPath);
        if (shard == null) {
            shard = SafetensorsFile.open(shardPath);
            List<String> absent = new ArrayList<>();
            for (Map.Entry<String, Path> entry : weightMap.entrySet()) {
                if (entry.getValue().equals(shardPath) && !shard.contains(entry.getKey())) {
                    absent.add(entry.getKey());
                }
            }
            if (!absent.isEmpty()) {
                shard.close();
                throw invalidIndex(indexFile, "it maps %s to shard %s, which does not contain %s; the index and the shards do not belong together, re-download or re-save the checkpoint",
                        absent.size() > 5 ? absent.subList(0, 5) + format(" and %d more", absent.size() - 5) : absent,
                        shardPath.getFileName(), absent.size() == 1 ? "it" : "them");
            }
            openShards.put(shardPath, shard);
        }
        return shard;
    }

    private static SafetensorsException invalidIndex(Path indexFile, String detail, Object... arguments) {
        return new SafetensorsException(format("Invalid checkpoint index %s: %s", indexFile, format(detail, arguments)));
    }
}
