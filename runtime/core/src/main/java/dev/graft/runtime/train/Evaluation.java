package dev.graft.runtime.train;

import static java.util.Objects.requireNonNull;

import dev.graft.runtime.report.GateMeans;

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
 * @param layerGates the mean gate value per layer and gated adapter over the data set (empty when nothing is gated, or
 *        for an evaluation read back from a metrics log)
 */
public record Evaluation(Map<String, Double> metrics, int[] predictions, float[][] probabilities, Map<String, Double> gates, long tokens, GateMeans layerGates) {
    public Evaluation {
        requireNonNull(layerGates, "layerGates is null");
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(metrics, "metrics is null")));
        gates = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(gates, "gates is null")));
        predictions = predictions.clone();
        probabilities = probabilities.clone();
    }

    /** An evaluation without per-layer gate means. */
    public Evaluation(Map<String, Double> metrics, int[] predictions, float[][] probabilities, Map<String, Double> gates, long tokens) {
        this(metrics, predictions, probabilities, gates, tokens, GateMeans.empty());
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
