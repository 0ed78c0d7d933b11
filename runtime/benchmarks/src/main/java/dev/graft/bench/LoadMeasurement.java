package dev.graft.bench;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.ModelLoader;
import dev.graft.runtime.loader.WeightPrecision;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What one load of a checkpoint cost a fresh JVM, measured in that JVM ({@link #measure}) and passed to the parent
 * as one line ({@link #toLine}, {@link #parse}). Sizes are in bytes.
 *
 * @param precision the weight precision the model was loaded in
 * @param weightBytes the bytes of the model's weight arrays (elements × element size)
 * @param before the process's memory once the engine was up, before the load
 * @param after the process's memory right after the load
 * @param heapUsed the Java heap in use after the load and a full collection
 * @param directBytes the bytes held by direct buffers (DJL's PyTorch arrays live in them)
 * @param loadSeconds the wall-clock time of {@code ModelLoader.load}
 */
record LoadMeasurement(WeightPrecision precision, long weightBytes, ProcessStatus before, ProcessStatus after, long heapUsed, long directBytes, double loadSeconds) {
    private static final String PREFIX = "graft-load-measurement";

    LoadMeasurement {
        requireNonNull(precision, "precision is null");
        requireNonNull(before, "before is null");
        requireNonNull(after, "after is null");
    }

    /** Loads the model in {@code directory} in {@code precision} and measures this process; meant for a fresh JVM. */
    static LoadMeasurement measure(Path directory, WeightPrecision precision) {
        try (NDManager manager = NDManager.newBaseManager()) {
            manager.create(0f).close();
            ProcessStatus before = ProcessStatus.read();
            long start = System.nanoTime();
            try (LoadedModel loaded = ModelLoader.load(directory, manager, precision)) {
                double seconds = (System.nanoTime() - start) / 1e9;
                ProcessStatus after = ProcessStatus.read();
                Set<NDArray> arrays = Collections.newSetFromMap(new IdentityHashMap<>());
                arrays.addAll(loaded.model().stateDict().values());
                long weightBytes = 0;
                for (NDArray array : arrays) {
                    weightBytes += array.size() * array.getDataType().getNumOfBytes();
                }
                System.gc();
                Runtime runtime = Runtime.getRuntime();
                return new LoadMeasurement(precision, weightBytes, before, after, runtime.totalMemory() - runtime.freeMemory(), directBufferBytes(), seconds);
            }
        }
    }

    private static long directBufferBytes() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                return pool.getMemoryUsed();
            }
        }
        return -1;
    }

    /** This measurement as one line of {@code key=value} pairs. */
    String toLine() {
        return format(Locale.ROOT, "%s precision=%s weights=%d anonBefore=%d anonAfter=%d fileAfter=%d rssAfter=%d peakAfter=%d heap=%d direct=%d seconds=%.3f",
                PREFIX, precision, weightBytes, before.residentAnonymous(), after.residentAnonymous(), after.residentFile(), after.resident(),
                after.peakResident(), heapUsed, directBytes, loadSeconds);
    }

    /** Whether {@code line} is a measurement written by {@link #toLine}. */
    static boolean isMeasurement(String line) {
        return line.startsWith(PREFIX + " ");
    }

    /** The measurement {@link #toLine} wrote as {@code line}. */
    static LoadMeasurement parse(String line) {
        if (!isMeasurement(line)) {
            throw new IllegalArgumentException(format("not a load measurement: '%s'", line));
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String pair : line.substring(PREFIX.length() + 1).split(" ")) {
            int equals = pair.indexOf('=');
            if (equals < 0) {
                throw new IllegalArgumentException(format("load measurement field '%s' has no '=' in '%s'", pair, line));
            }
            fields.put(pair.substring(0, equals), pair.substring(equals + 1));
        }
        return new LoadMeasurement(WeightPrecision.valueOf(fields.get("precision")), number(fields, "weights"),
                new ProcessStatus(number(fields, "anonBefore"), 0, 0, 0),
                new ProcessStatus(number(fields, "anonAfter"), number(fields, "fileAfter"), number(fields, "rssAfter"), number(fields, "peakAfter")),
                number(fields, "heap"), number(fields, "direct"), Double.parseDouble(fields.get("seconds")));
    }

    private static long number(Map<String, String> fields, String key) {
        String value = fields.get(key);
        if (value == null) {
            throw new IllegalArgumentException(format("load measurement has no '%s' field: %s", key, fields));
        }
        return Long.parseLong(value);
    }
}
