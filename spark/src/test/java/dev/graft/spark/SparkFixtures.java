package dev.graft.spark;

import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.loader.TinyLlama;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.train.FineTuner;
import dev.graft.runtime.train.RunFolder;
import dev.graft.runtime.train.Runs;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** A tiny Llama, recipes over it, a local Spark session and adapter comparisons, shared by this module's tests. */
final class SparkFixtures {
    private SparkFixtures() {}

    /** A local Spark session with {@code cores} task slots, each task retried up to 4 times, without a UI. */
    static SparkSession session(int cores) {
        return SparkSession.builder()
                .master(String.format(Locale.ROOT, "local[%d,4]", cores))
                .appName("graft-spark-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    /** A tiny random Llama (2 layers, hidden 32) in Hugging Face layout. */
    static Path tinyLlama(Path directory) {
        TinyLlama.write(directory, TinyLlama.config(2, 32, 64, 4, 2), 11);
        return directory;
    }

    /** {@code count} texts of 12 characters each: the same number of tokens, so a mean over tokens is a mean over texts. */
    static List<String> texts(int count) {
        String[] words = {"apple", "river", "stone", "cloud", "ember", "frost", "grain", "honey"};
        return java.util.stream.IntStream.range(0, count)
                .mapToObj(index -> String.format(Locale.ROOT, "%s %s %02d", words[index % words.length], words[(index * 3 + 1) % words.length].substring(0, 2), index))
                .toList();
    }

    /** A causal-LM LoRA recipe over {@code model} (no dropout, so a step is deterministic), written to {@code file}. */
    static Path recipe(Path file, Path model, Path train, int batchSize, int maxSteps, long seed, int checkpointEvery) {
        String yaml = String.format(Locale.ROOT, """
                model: %s
                adapters:
                  - name: lowrank
                    method: lora
                    target_modules: [q_proj, v_proj, up_proj]
                    options: {r: 4, lora_alpha: 8, lora_dropout: 0.0}
                task:
                  type: causal-lm
                data:
                  train: %s
                  validation_split: 0
                  max_length: 32
                training:
                  max_steps: %d
                  batch_size: %d
                  learning_rate: 0.02
                  seed: %d
                  log_every: 1
                  checkpoint_every: %d
                  keep_checkpoints: 10
                """, model, train, maxSteps, batchSize, seed, checkpointEvery);
        write(file, yaml);
        return file;
    }

    /** A JSONL file with one {@code {"text": ...}} per text. */
    static Path jsonl(Path file, List<String> texts) {
        write(file, texts.stream().map(text -> "{\"text\": \"" + text + "\"}").collect(Collectors.joining("\n", "", "\n")));
        return file;
    }

    static MethodRegistry registry() {
        return MethodRegistryLoader.load(SparkFixtures.class.getClassLoader(), List.of());
    }

    /** Trains {@code recipe} on one machine into {@code output}. */
    static Path trainOnOneMachine(Path recipe, Path output) {
        Runs.start(Recipe.read(recipe), new RunFolder(output), true, registry(), quiet());
        return output;
    }

    static FineTuner.Options quiet() {
        return new FineTuner.Options(new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8), false);
    }

    /** Every tensor of every safetensors file under a run's {@code adapter/} folder, by file and tensor name. */
    static Map<String, float[]> adapterTensors(Path run) {
        Path adapter = run.resolve(RunFolder.ADAPTER);
        Map<String, float[]> tensors = new TreeMap<>();
        try (Stream<Path> files = Files.walk(adapter)) {
            for (Path file : files.filter(path -> path.toString().endsWith(".safetensors")).toList()) {
                try (SafetensorsFile safetensors = SafetensorsFile.open(file)) {
                    for (String name : safetensors.names()) {
                        FloatBuffer buffer = safetensors.data(name).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                        float[] values = new float[buffer.remaining()];
                        buffer.get(values);
                        tensors.put(adapter.relativize(file) + ":" + name, values);
                    }
                }
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return tensors;
    }

    /** The largest absolute difference between two adapters' tensors (which must have the same names and sizes). */
    static double maxDifference(Map<String, float[]> expected, Map<String, float[]> actual) {
        if (!expected.keySet().equals(actual.keySet())) {
            throw new AssertionError("adapters differ in tensors: " + expected.keySet() + " vs " + actual.keySet());
        }
        double max = 0;
        for (Map.Entry<String, float[]> entry : expected.entrySet()) {
            float[] other = actual.get(entry.getKey());
            if (other.length != entry.getValue().length) {
                throw new AssertionError("tensor " + entry.getKey() + " differs in size");
            }
            for (int index = 0; index < other.length; index++) {
                max = Math.max(max, Math.abs(entry.getValue()[index] - other[index]));
            }
        }
        return max;
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
