package dev.graft.runtime.train;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.data.BatchLoader;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.ExampleEncoder;
import dev.graft.runtime.data.PaddedBatch;
import dev.graft.runtime.report.GateMeans;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Evaluates a {@link TaskModel} on labelled examples, in inference mode (no dropout, no gradients), batch by batch
 * in a memory scope each: the mean loss, accuracy and macro-F1 (classification) or perplexity (causal LM, the
 * exponential of the mean loss per counted token), and the mean gate value per adapter and per layer and adapter.
 */
public final class Evaluator {
    private static final int PREFETCH = 2;

    private final TaskModel model;
    private final ExampleEncoder encoder;
    private final long padTokenId;
    private final int batchSize;

    public Evaluator(TaskModel model, ExampleEncoder encoder, long padTokenId, int batchSize) {
        this.model = requireNonNull(model, "model is null");
        this.encoder = requireNonNull(encoder, "encoder is null");
        this.padTokenId = padTokenId;
        this.batchSize = batchSize;
    }

    /** Evaluates every example of {@code examples} (at least one), with temporaries in sub-managers of {@code manager}. */
    public Evaluation evaluate(List<Example> examples, NDManager manager) {
        int[] order = new int[examples.size()];
        for (int index = 0; index < order.length; index++) {
            order[index] = index;
        }
        boolean classification = model.type() == TaskType.SEQUENCE_CLASSIFICATION;
        int[] truth = new int[classification ? examples.size() : 0];
        int[] predictions = new int[truth.length];
        float[][] probabilities = new float[truth.length][];
        double lossTotal = 0;
        double lossCount = 0;
        long tokens = 0;
        Map<String, double[]> gateSums = new LinkedHashMap<>();
        Map<Integer, Map<String, double[]>> layerGateSums = new TreeMap<>();
        // gate values are copied to the JVM only while recording: on for this evaluation, back as it was after
        boolean wasRecording = model.model().isGateRecording();
        model.model().setGateRecording(true);
        try (BatchLoader loader = BatchLoader.start(examples, order, batchSize, 0, encoder, padTokenId, PREFETCH)) {
            while (loader.hasNext()) {
                PaddedBatch batch = loader.next();
                tokens += batch.tokens();
                try (NDManager scope = manager.newSubManager()) {
                    NDList inputs = model.inputs(scope, batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds());
                    NDArray labels = classification ? scope.create(toLongs(batch.labels())) : scope.create(batch.targets());
                    NDArray logits = model.logits(new ParameterStore(scope, false), inputs, false);
                    TaskModel.LossSum sum = model.lossSum(logits, labels);
                    lossTotal += sum.total().getFloat();
                    lossCount += sum.count().getFloat();
                    if (classification) {
                        float[][] batchProbabilities = rows(logits.softmax(-1).toFloatArray(), batch.size());
                        for (int row = 0; row < batch.size(); row++) {
                            int example = batch.exampleIndexes()[row];
                            truth[example] = batch.labels()[row];
                            probabilities[example] = batchProbabilities[row];
                            predictions[example] = argMax(batchProbabilities[row]);
                        }
                    }
                    addGates(gateSums, layerGateSums);
                }
            }
        }
        finally {
            model.model().setGateRecording(wasRecording);
        }
        double loss = lossTotal / Math.max(1, lossCount);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("loss", loss);
        if (classification) {
            metrics.put("accuracy", ClassificationMetrics.accuracy(truth, predictions));
            metrics.put("macro_f1", ClassificationMetrics.macroF1(truth, predictions, model.head().orElseThrow().labels().size()));
        }
        else {
            metrics.put("perplexity", Math.exp(loss));
        }
        Map<String, Double> gates = new LinkedHashMap<>();
        gateSums.forEach((adapter, sums) -> gates.put(adapter, sums[0] / sums[1]));
        Map<Integer, Map<String, Double>> layerGates = new TreeMap<>();
        layerGateSums.forEach((layer, row) -> row.forEach((adapter, sums) -> layerGates.computeIfAbsent(layer, key -> new LinkedHashMap<>()).put(adapter, sums[0] / sums[1])));
        return new Evaluation(metrics, predictions, probabilities, gates, tokens, new GateMeans(layerGates));
    }

    /**
     * Adds the last forward pass's gate values, per adapter and per layer and adapter: the sum over the gates and the
     * batch, and the count.
     */
    private void addGates(Map<String, double[]> sums, Map<Integer, Map<String, double[]>> layerSums) {
        for (GateReading reading : model.model().gateReadings()) {
            double[] sum = sums.computeIfAbsent(reading.adapter(), adapter -> new double[2]);
            double[] layerSum = layerSums.computeIfAbsent(reading.layerIndex(), layer -> new LinkedHashMap<>()).computeIfAbsent(reading.adapter(), adapter -> new double[2]);
            for (float value : reading.values()) {
                sum[0] += value;
                layerSum[0] += value;
            }
            sum[1] += reading.values().length;
            layerSum[1] += reading.values().length;
        }
    }

    static int argMax(float[] values) {
        int best = 0;
        for (int index = 1; index < values.length; index++) {
            if (values[index] > values[best]) {
                best = index;
            }
        }
        return best;
    }

    private static float[][] rows(float[] flat, int rows) {
        int columns = flat.length / rows;
        float[][] result = new float[rows][columns];
        for (int row = 0; row < rows; row++) {
            System.arraycopy(flat, row * columns, result[row], 0, columns);
        }
        return result;
    }

    private static long[] toLongs(int[] values) {
        long[] longs = new long[values.length];
        for (int index = 0; index < values.length; index++) {
            longs[index] = values[index];
        }
        return longs;
    }
}
