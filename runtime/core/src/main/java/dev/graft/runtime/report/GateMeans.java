package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;

/**
 * The mean gate value of each gated adapter at each layer on a data set: the average, over the examples and the
 * adapter's gated sites in that layer, of the per-example gate values {@code g}. Layers are rows (ascending), adapters
 * columns (in the order first seen); an adapter with no site in a layer has no value there.
 *
 * @param means layer index to adapter name to mean gate value
 */
public record GateMeans(Map<Integer, Map<String, Double>> means) {
    public GateMeans {
        Map<Integer, Map<String, Double>> copy = new TreeMap<>();
        requireNonNull(means, "means is null").forEach((layer, row) -> copy.put(layer, Collections.unmodifiableMap(new LinkedHashMap<>(row))));
        means = Collections.unmodifiableMap(copy);
    }

    /** No gate values (the model has no gated adapter). */
    public static GateMeans empty() {
        return new GateMeans(Map.of());
    }

    /** Whether there is no gate value. */
    public boolean isEmpty() {
        return means.isEmpty();
    }

    /** The layer indexes, ascending. */
    public List<Integer> layers() {
        return List.copyOf(means.keySet());
    }

    /** The adapter names, in the order first seen. */
    public List<String> adapters() {
        Set<String> adapters = new LinkedHashSet<>();
        means.values().forEach(row -> adapters.addAll(row.keySet()));
        return List.copyOf(adapters);
    }

    /** The mean gate of {@code adapter} at {@code layer}, or empty where it has no gated site. */
    public OptionalDouble mean(int layer, String adapter) {
        Map<String, Double> row = means.get(layer);
        Double value = row == null ? null : row.get(adapter);
        return value == null ? OptionalDouble.empty() : OptionalDouble.of(value);
    }

    /**
     * The table as text lines: a {@code LAYER} column, then one column per adapter (4 decimals, {@code -} where none);
     * no line when there is no gate value.
     */
    public List<String> table() {
        if (isEmpty()) {
            return List.of();
        }
        List<String> adapters = adapters();
        List<String> header = new ArrayList<>();
        header.add("LAYER");
        header.addAll(adapters);
        List<List<String>> rows = new ArrayList<>();
        for (int layer : layers()) {
            List<String> row = new ArrayList<>();
            row.add(Integer.toString(layer));
            for (String adapter : adapters) {
                OptionalDouble mean = mean(layer, adapter);
                row.add(mean.isPresent() ? format(Locale.ROOT, "%.4f", mean.getAsDouble()) : "-");
            }
            rows.add(row);
        }
        Set<Integer> right = new LinkedHashSet<>();
        for (int column = 0; column < header.size(); column++) {
            right.add(column);
        }
        return TextTable.render(header, rows, right);
    }
}
