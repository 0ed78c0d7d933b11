package dev.graft.bench;

import static java.lang.String.format;

import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.model.LlamaConfig;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * How much memory loading a BF16 checkpoint takes, per {@link WeightPrecision}: generates a Llama-shaped BF16
 * checkpoint (TinyLlama-1.1B's shape by default, about 2.2 GB), then loads it once per precision, each time in a
 * fresh child JVM so that nothing of one load (heap, direct buffers, libtorch's caches, page-cache accounting)
 * colours the next, and prints a table. A benchmark run by hand, never by the build.
 *
 * <p>The figures come from the child's {@code /proc/self/status}: {@code RssAnon} (anonymous resident memory: the
 * heap, direct buffers — where DJL's arrays live — and libtorch's allocations) before and after the load, and
 * {@code VmRSS}/{@code VmHWM} for reference, which also count the checkpoint's memory-mapped file pages the load
 * reads through ({@code RssFile}); those belong to the page cache and are dropped under memory pressure, so
 * {@code RssAnon} is the honest cost.
 *
 * <p>Options ({@code --name=value}): {@code --hidden}, {@code --intermediate}, {@code --layers}, {@code --vocab},
 * {@code --heads}, {@code --kv-heads} (the shape; head_dim is hidden/heads), {@code --precisions} (comma-separated,
 * default {@code HALF,FLOAT32}), {@code --directory} (where to write the checkpoint; default a new temporary folder,
 * deleted afterwards), {@code --keep} (keep it), {@code --child-heap} (the children's {@code -Xmx}, default 1g).
 */
public final class LoadMemoryBenchmark {
    private static final String CHILD = "--child";
    private static final List<String> OPTIONS = List.of("hidden", "intermediate", "layers", "vocab", "heads", "kv-heads", "precisions", "directory", "keep", "child-heap");
    private static final double GIB = 1024.0 * 1024 * 1024;
    private static final double MIB = 1024.0 * 1024;

    private LoadMemoryBenchmark() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length == 3 && args[0].equals(CHILD)) {
            System.out.println(LoadMeasurement.measure(Path.of(args[1]), WeightPrecision.valueOf(args[2])).toLine());
            return;
        }
        Map<String, String> options = options(args);
        LlamaConfig shape = shape(options);
        List<WeightPrecision> precisions = new ArrayList<>();
        for (String name : options.getOrDefault("precisions", "HALF,FLOAT32").split(",")) {
            precisions.add(WeightPrecision.valueOf(name.trim().toUpperCase(Locale.ROOT)));
        }
        boolean temporary = !options.containsKey("directory");
        Path directory = temporary ? Files.createTempDirectory("graft-load-benchmark") : Path.of(options.get("directory"));
        try {
            System.out.printf(Locale.ROOT, "Llama-shaped BF16 checkpoint: hidden %d, intermediate %d, %d layers, vocabulary %d, heads %d/%d: %,d parameters%n",
                    shape.hiddenSize(), shape.intermediateSize(), shape.numLayers(), shape.vocabularySize(), shape.numAttentionHeads(),
                    shape.numKeyValueHeads(), BenchmarkCheckpoint.parameterCount(shape));
            long start = System.nanoTime();
            BenchmarkCheckpoint.write(shape, directory, 42);
            long fileBytes = Files.size(directory.resolve("model.safetensors"));
            System.out.printf(Locale.ROOT, "wrote %s: %,d bytes (%.2f GiB) in %.1f s%n%n", directory.resolve("model.safetensors"), fileBytes, fileBytes / GIB,
                    (System.nanoTime() - start) / 1e9);

            List<LoadMeasurement> measurements = new ArrayList<>();
            for (WeightPrecision precision : precisions) {
                measurements.add(runChild(directory, precision, fileBytes, options.getOrDefault("child-heap", "1g")));
            }
            System.out.println();
            System.out.print(table(measurements, fileBytes));
        }
        finally {
            if (temporary && !options.containsKey("keep")) {
                delete(directory);
            }
        }
    }

    /** Loads the checkpoint in a fresh JVM with the same class path and DJL settings, and reads back its measurement. */
    private static LoadMeasurement runChild(Path directory, WeightPrecision precision, long fileBytes, String heap) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        // DJL's arrays live in direct buffers, which the JVM caps at -Xmx unless told otherwise: allow the widest load
        command.add(format("-XX:MaxDirectMemorySize=%dm", 3 * fileBytes / (1024 * 1024) + 1024));
        System.getProperties().stringPropertyNames().stream().filter(name -> name.startsWith("ai.djl.")).sorted()
                .forEach(name -> command.add(format("-D%s=%s", name, System.getProperty(name))));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(LoadMemoryBenchmark.class.getName());
        command.add(CHILD);
        command.add(directory.toString());
        command.add(precision.name());
        System.out.printf("loading as %s in a fresh JVM ...%n", precision);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        LoadMeasurement measurement = null;
        try (BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = output.readLine()) != null) {
                if (LoadMeasurement.isMeasurement(line)) {
                    measurement = LoadMeasurement.parse(line);
                }
                else {
                    System.out.println("  " + line);
                }
            }
        }
        int status = process.waitFor();
        if (status != 0 || measurement == null) {
            throw new IllegalStateException(format("the %s load exited with status %d%s; its errors are printed above", precision, status,
                    measurement == null ? " without a measurement" : ""));
        }
        return measurement;
    }

    /** The measurements as a fixed-width table, with the ratios to the checkpoint's file size. */
    static String table(List<LoadMeasurement> measurements, long fileBytes) {
        StringBuilder table = new StringBuilder();
        table.append(format(Locale.ROOT, "checkpoint file: %.0f MiB (BF16)%n", fileBytes / MIB));
        table.append(format(Locale.ROOT, "%-10s %9s %10s %10s %10s %10s %10s %9s %9s %12s %13s %7s%n", "precision", "weights", "RssAnon 0", "RssAnon",
                "ΔRssAnon", "VmRSS", "VmHWM", "heap", "direct", "RssAnon/file", "ΔRssAnon/file", "load s"));
        for (LoadMeasurement measurement : measurements) {
            long anonymous = measurement.after().residentAnonymous();
            long growth = anonymous - measurement.before().residentAnonymous();
            table.append(format(Locale.ROOT, "%-10s %9s %10s %10s %10s %10s %10s %9s %9s %12.2f %13.2f %7.1f%n", measurement.precision(),
                    mib(measurement.weightBytes()), mib(measurement.before().residentAnonymous()), mib(anonymous), mib(growth),
                    mib(measurement.after().resident()), mib(measurement.after().peakResident()), mib(measurement.heapUsed()),
                    mib(measurement.directBytes()), (double) anonymous / fileBytes, (double) growth / fileBytes, measurement.loadSeconds()));
        }
        table.append("sizes in MiB; RssAnon 0 is the child JVM with the engine loaded, before ModelLoader.load; heap is after a full GC\n");
        return table.toString();
    }

    private static String mib(long bytes) {
        return format(Locale.ROOT, "%.0f", bytes / MIB);
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String argument : args) {
            if (!argument.startsWith("--")) {
                throw new IllegalArgumentException(format("unexpected argument '%s': options are --name=value, one of %s", argument, OPTIONS));
            }
            int equals = argument.indexOf('=');
            String name = equals < 0 ? argument.substring(2) : argument.substring(2, equals);
            if (!OPTIONS.contains(name)) {
                throw new IllegalArgumentException(format("unknown option '--%s'; the options are %s", name, OPTIONS));
            }
            options.put(name, equals < 0 ? "true" : argument.substring(equals + 1));
        }
        return options;
    }

    private static LlamaConfig shape(Map<String, String> options) {
        LlamaConfig base = BenchmarkCheckpoint.tinyLlamaShape();
        int hidden = integer(options, "hidden", base.hiddenSize());
        int heads = integer(options, "heads", base.numAttentionHeads());
        if (hidden % heads != 0) {
            throw new IllegalArgumentException(format("--hidden=%d must be a multiple of --heads=%d", hidden, heads));
        }
        return new LlamaConfig(integer(options, "vocab", base.vocabularySize()), hidden, integer(options, "intermediate", base.intermediateSize()),
                integer(options, "layers", base.numLayers()), heads, integer(options, "kv-heads", base.numKeyValueHeads()), hidden / heads,
                base.rmsNormEps(), base.ropeTheta(), false, false, false);
    }

    private static int integer(Map<String, String> options, String name, int fallback) {
        String value = options.get(name);
        if (value == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(value);
        }
        catch (NumberFormatException e) {
            throw new IllegalArgumentException(format("--%s=%s is not a whole number", name, value), e);
        }
    }

    private static void delete(Path directory) throws IOException {
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
        catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
