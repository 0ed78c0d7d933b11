package dev.graft.runtime.train;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The result of evaluating a model on a labelled data set.
 *
 * @param metrics by name, in report order: {@code loss}, then {@code accuracy} and {@code macro_f1} (classification)
 *        or {@code perplexity} (causal LM)
 * @param predictions the predicted class index per example, in data-set order (empty for a causal LM)
 * @param probabilities the class probabilities per example (empty for a causal LM)
 * @param gates the mean gate value per gated adapter over the data set (empty when nothing is gated)
 * @param tokens the number of real tokens evaluated
 */
public record Evaluation(Map<String, Double> metrics, int[] predictions, float[][] probabilities, Map<String, Double> gates, long tokens) {
    public Evaluation {
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(metrics, "metrics is null")));
        gates = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(gates, "gates is null")));
        predictions = predictions.clone();
        probabilities = probabilities.clone();
    }

    /** The value of {@code metric}. */
    public double metric(String metric) {
        Double value = metrics.get(metric);
        if (value == null) {
            throw new IllegalArgumentException(String.format("metric '%s' is not computed for this task; it has %s", metric, metrics.keySet()));
        }
        return value;
    }
}
