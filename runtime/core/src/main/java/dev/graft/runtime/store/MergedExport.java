package dev.graft.runtime.store;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.peft.PeftModel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Exports a model with adapters merged into its weights as a Hugging Face checkpoint folder
 * ({@code config.json} + {@code model.safetensors}) that any HF loader reads. The folder is written under a
 * temporary name beside the target and moved into place at the end, so a failed export leaves nothing behind;
 * an existing non-empty target is refused. The in-memory model is unmerged again afterwards.
 */
public final class MergedExport {
    /** The weights file of the exported folder. */
    public static final String WEIGHTS_FILE = "model.safetensors";
    /** The config file of the exported folder. */
    public static final String CONFIG_FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Map<Dtype, String> TORCH_DTYPES = Map.of(Dtype.F32, "float32", Dtype.F16, "float16", Dtype.BF16, "bfloat16");

    private MergedExport() {}

    /**
     * Merges {@code adapters}, writes the merged weights stored as {@code dtype} and {@code config} (with its
     * {@code torch_dtype} set accordingly) to {@code output}, each active adapter's {@code modules_to_save} copy in place
     * of its original (as PEFT's {@code merge_and_unload}), plus {@code extraFiles} (tokenizer files, say)
     * copied as they are, then unmerges.
     *
     * @throws IllegalStateException if an adapter cannot merge (prefix, prompt, gated)
     * @throws StoreException if {@code output} exists and is not empty, or cannot be written
     */
    public static void export(PeftModel model, List<String> adapters, Map<String, Object> config, Dtype dtype, List<Path> extraFiles, Path output) {
        requireNonNull(dtype, "dtype is null");
        if (!TORCH_DTYPES.containsKey(dtype)) {
            throw new IllegalArgumentException(format("cannot export weights as %s; use F32, F16 or BF16", dtype));
        }
        Path target = output.toAbsolutePath().normalize();
        if (Files.exists(target) && !isEmptyDirectory(target)) {
            throw new StoreException(format("output folder %s exists and is not empty; choose a new folder so nothing is overwritten", target));
        }
        model.merge(adapters);
        Path staging = null;
        try {
            Files.createDirectories(target.getParent());
            staging = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".");
            SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
            for (Map.Entry<String, NDArray> entry : model.exportedStateDict().entrySet()) {
                writer.add(entry.getKey(), entry.getValue(), dtype);
            }
            writer.write(staging.resolve(WEIGHTS_FILE));
            Map<String, Object> exportedConfig = new LinkedHashMap<>(config);
            exportedConfig.put("torch_dtype", TORCH_DTYPES.get(dtype));
            Files.write(staging.resolve(CONFIG_FILE), (JSON.writeValueAsString(exportedConfig) + "\n").getBytes(StandardCharsets.UTF_8));
            for (Path file : extraFiles) {
                Files.copy(file, staging.resolve(file.getFileName().toString()));
            }
            if (Files.exists(target)) {
                Files.delete(target);
            }
            Files.move(staging, target);
            staging = null;
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot export the merged model to %s: %s", target, e.getMessage()), e);
        }
        finally {
            deleteRecursively(staging);
            model.unmerge(adapters);
        }
    }

    private static boolean isEmptyDirectory(Path directory) {
        if (!Files.isDirectory(directory)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.findAny().isEmpty();
        }
        catch (IOException e) {
            return false;
        }
    }

    private static void deleteRecursively(Path directory) {
        if (directory == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
        catch (IOException ignored) {
            // best effort: a leftover hidden staging folder is harmless
        }
    }
}
