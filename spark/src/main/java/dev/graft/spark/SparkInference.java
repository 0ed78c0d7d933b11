package dev.graft.spark;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.task.TaskType;
import dev.graft.runtime.train.RoutedModel;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * Batch inference with many adapters on Spark: each row of a DataFrame runs with the adapter its adapter column
 * names ({@link dev.graft.runtime.peft.PeftModel#route}, as {@code graft predict --adapter-column}). Each executor
 * loads the base model and the adapters once and keeps them for all its partitions. Classification adds the columns
 * {@code label} and {@code probabilities} (over that adapter's labels); a causal LM adds {@code next_token} (the
 * greedy next token id after the text) and {@code next_token_logits}.
 */
public final class SparkInference {
    /** Rows per forward pass. */
    public static final int BATCH = 16;

    /**
     * What to run.
     *
     * @param textColumn the column holding each row's text
     * @param adapterColumn the column naming each row's adapter (the adapter folder's name, as {@code graft predict} names them)
     * @param adapters adapter folders every executor can read (run folders, their {@code adapter/}, or PEFT folders)
     * @param model the base model every executor can read, or null for the one the adapters name
     * @param pluginDirectories plugin folders every executor can read
     * @param maxLength the longest input in tokens
     */
    public record Options(String textColumn, String adapterColumn, List<String> adapters, String model, List<String> pluginDirectories, int maxLength)
            implements Serializable {
        public Options {
            requireNonNull(textColumn, "textColumn is null");
            requireNonNull(adapterColumn, "adapterColumn is null");
            adapters = List.copyOf(adapters);
            pluginDirectories = List.copyOf(pluginDirectories);
            if (maxLength < 1) {
                throw new IllegalArgumentException(format("maxLength must be positive, not %d", maxLength));
            }
        }
    }

    private SparkInference() {}

    /**
     * {@code input} with the prediction columns added. The driver opens the models once too, to learn the task (in
     * local mode it shares them with the tasks).
     */
    public static Dataset<Row> predict(Dataset<Row> input, Options options) {
        requireNonNull(input, "input is null");
        requireNonNull(options, "options is null");
        List<String> columns = List.of(input.columns());
        for (String column : List.of(options.textColumn(), options.adapterColumn())) {
            if (!columns.contains(column)) {
                throw new IllegalArgumentException(format("the DataFrame has no column '%s'; its columns: %s", column, columns));
            }
        }
        RoutedModel routed = ExecutorCache.routed(options.model(), options.adapters(), options.pluginDirectories());
        TaskType type = routed.type();
        StructType schema = input.schema();
        if (type == TaskType.SEQUENCE_CLASSIFICATION) {
            schema = schema.add("label", DataTypes.StringType).add("probabilities", DataTypes.createArrayType(DataTypes.FloatType));
        }
        else {
            schema = schema.add("next_token", DataTypes.LongType).add("next_token_logits", DataTypes.createArrayType(DataTypes.FloatType));
        }
        int text = input.schema().fieldIndex(options.textColumn());
        int adapter = input.schema().fieldIndex(options.adapterColumn());
        return input.mapPartitions((MapPartitionsFunction<Row, Row>) rows -> predictPartition(rows, text, adapter, options), Encoders.row(schema));
    }

    private static Iterator<Row> predictPartition(Iterator<Row> rows, int text, int adapter, Options options) {
        TaskThreads.prepare();
        RoutedModel routed = ExecutorCache.routed(options.model(), options.adapters(), options.pluginDirectories());
        List<Row> results = new ArrayList<>();
        List<Row> batch = new ArrayList<>();
        try (TrainingTokenizer tokenizer = routed.tokenizer(options.maxLength())) {
            while (rows.hasNext()) {
                batch.add(rows.next());
                if (batch.size() == BATCH || !rows.hasNext()) {
                    synchronized (routed) {
                        results.addAll(predictBatch(routed, tokenizer, batch, text, adapter));
                    }
                    batch.clear();
                }
            }
        }
        return results.iterator();
    }

    private static List<Row> predictBatch(RoutedModel routed, TrainingTokenizer tokenizer, List<Row> batch, int text, int adapter) {
        int size = batch.size();
        long[][] ids = new long[size][];
        List<String> rowAdapters = new ArrayList<>();
        int longest = 1;
        for (int row = 0; row < size; row++) {
            ids[row] = tokenizer.encode(batch.get(row).getString(text)).ids();
            longest = Math.max(longest, ids[row].length);
            rowAdapters.add(batch.get(row).getString(adapter));
        }
        long[][] inputIds = new long[size][longest];
        long[][] mask = new long[size][longest];
        for (int row = 0; row < size; row++) {
            Arrays.fill(inputIds[row], tokenizer.padTokenId());
            for (int position = 0; position < ids[row].length; position++) {
                inputIds[row][position] = ids[row][position];
                mask[row][position] = 1;
            }
        }
        List<Row> out = new ArrayList<>();
        try (NDManager scope = routed.manager().newSubManager()) {
            NDList inputs = routed.task().inputs(scope, inputIds, mask, null);
            ParameterStore store = new ParameterStore(scope, false);
            if (routed.type() == TaskType.SEQUENCE_CLASSIFICATION) {
                List<float[]> probabilities = routed.probabilities(store, inputs, rowAdapters);
                for (int row = 0; row < size; row++) {
                    float[] own = probabilities.get(row);
                    int best = 0;
                    for (int label = 1; label < own.length; label++) {
                        best = own[label] > own[best] ? label : best;
                    }
                    String label = routed.head(rowAdapters.get(row)).labels().get(best);
                    out.add(appended(batch.get(row), label, boxed(own)));
                }
            }
            else {
                NDArray logits = routed.logits(store, inputs, rowAdapters);
                for (int row = 0; row < size; row++) {
                    float[] last = logits.get(new NDIndex("{}, {}", row, ids[row].length - 1)).toFloatArray();
                    int best = 0;
                    for (int token = 1; token < last.length; token++) {
                        best = last[token] > last[best] ? token : best;
                    }
                    out.add(appended(batch.get(row), (long) best, boxed(last)));
                }
            }
        }
        return out;
    }

    private static Float[] boxed(float[] values) {
        Float[] boxed = new Float[values.length];
        for (int index = 0; index < values.length; index++) {
            boxed[index] = values[index];
        }
        return boxed;
    }

    private static Row appended(Row row, Object first, Object second) {
        Object[] values = new Object[row.length() + 2];
        for (int index = 0; index < row.length(); index++) {
            values[index] = row.get(index);
        }
        values[row.length()] = first;
        values[row.length() + 1] = second;
        return RowFactory.create(values);
    }
}
