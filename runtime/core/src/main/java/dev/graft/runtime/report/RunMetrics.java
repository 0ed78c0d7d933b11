package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** Final metrics of one run, e.g. name "gated lora + adapter + prefix", values {"accuracy": 0.97, "macro_f1": 0.96, "loss": 0.1}; values keep insertion order. */
public record RunMetrics(String name, Map<String, Double> values) {
    /** Checks the run and copies its values, keeping their order. */
    public RunMetrics {
        requireNonNull(name, "name is null");
        requireNonNull(values, "values is null");
        Map<String, Double> copy = new LinkedHashMap<>();
        values.forEach((metric, value) -> {
            if (metric == null || value == null) {
                throw new IllegalArgumentException(format("Run %s has a null metric name or value (%s = %s); give every metric a name and a number (NaN where unknown)", name, metric, value));
            }
            copy.put(metric, value);
        });
        values = Collections.unmodifiableMap(copy);
    }
}
