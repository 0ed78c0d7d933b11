package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One line of metrics.jsonl: the metric values of one split ("train", "validation" or "test") at one step, and the
 * mean gate value per adapter name ({@code gates}, empty when nothing is gated). Both maps keep insertion order.
 */
public record MetricsRecord(long step, double epoch, String split, Map<String, Double> values, Map<String, Double> gates) {
    /** The split of training-batch metrics. */
    public static final String TRAIN = "train";
    /** The split of metrics measured on the validation set. */
    public static final String VALIDATION = "validation";
    /** The split of metrics measured on the test set. */
    public static final String TEST = "test";
    /** The names a metric may not have: metrics.jsonl uses them for the record's own fields. */
    public static final Set<String> RESERVED_NAMES = Set.of("step", "epoch", "split", "gates");

    /** Checks the record and copies both maps, keeping their order. */
    public MetricsRecord {
        requireNonNull(split, "split is null");
        requireNonNull(values, "values is null");
        requireNonNull(gates, "gates is null");
        if (step < 0) {
            throw new IllegalArgumentException(format("Metrics of split %s at step %d: a step is 0 or more", split, step));
        }
        if (split.isBlank()) {
            throw new IllegalArgumentException(format("Metrics at step %d have a blank split; name it \"%s\", \"%s\" or \"%s\"", step, TRAIN, VALIDATION, TEST));
        }
        values = orderedCopy(values, "metric", step, split);
        gates = orderedCopy(gates, "gate", step, split);
        for (String name : values.keySet()) {
            if (RESERVED_NAMES.contains(name)) {
                throw new IllegalArgumentException(format("Metrics of split %s at step %d hold a metric named \"%s\"; rename it: %s are the record's own fields", split, step, name, RESERVED_NAMES));
            }
        }
    }

    /** The metric values and no gates. */
    public MetricsRecord(long step, double epoch, String split, Map<String, Double> values) {
        this(step, epoch, split, values, Map.of());
    }

    private static Map<String, Double> orderedCopy(Map<String, Double> map, String kind, long step, String split) {
        Map<String, Double> copy = new LinkedHashMap<>();
        map.forEach((name, value) -> {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException(format("Metrics of split %s at step %d hold a %s with a blank name; give every %s a name", split, step, kind, kind));
            }
            if (value == null) {
                throw new IllegalArgumentException(format("Metrics of split %s at step %d: %s %s is null; give a number (NaN where it is unknown)", split, step, kind, name));
            }
            copy.put(name, value);
        });
        return Collections.unmodifiableMap(copy);
    }
}
