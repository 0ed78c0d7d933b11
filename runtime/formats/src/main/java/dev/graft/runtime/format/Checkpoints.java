package dev.graft.runtime.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/** Opens the weights of a Hugging Face model directory. */
public final class Checkpoints {
    /** The file name of a single-file checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The file name of a sharded checkpoint's index. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private Checkpoints() {}

    /**
     * Opens {@code model.safetensors} in {@code directory} or, when there is none,
     * {@code model.safetensors.index.json} (the order Hugging Face transformers uses).
     *
     * @throws SafetensorsException if there is neither, or the one there is invalid
     */
    public static Checkpoint open(Path directory) {
        requireNonNull(directory, "directory is null");
        if (!Files.isDirectory(directory)) {
            throw new SafetensorsException(format("Model directory %s does not exist or is not a directory", directory));
        }
        Path single = directory.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return SafetensorsFile.open(single);
        }
        Path index = directory.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return ShardedCheckpoint.open(index);
        }
        throw new SafetensorsException(format("Model directory %s has neither %s nor %s; it holds %s. Save the model with safe_serialization=True or convert it to safetensors",
                directory, SINGLE_FILE, INDEX_FILE, listing(directory)));
    }

    private static List<String> listing(Path directory) {
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).sorted().limit(10).toList();
        }
        catch (IOException e) {
            return List.of(format("(cannot list: %s)", e));
        }
    }
}
