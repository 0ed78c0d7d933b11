package dev.graft.spark;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.train.RoutedModel;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

final class TestSparkInference {
    private static final int ADAPTERS = 4;
    private static final int MAX_LENGTH = 32;

    @TempDir
    static Path directory;
    private static SparkSession spark;
    private static List<String> adapters;

    @BeforeAll
    static void start() {
        spark = SparkFixtures.session(2);
        Path model = SparkFixtures.tinyLlama(directory.resolve("tiny-llama"));
        Path train = SparkFixtures.jsonl(directory.resolve("train.jsonl"), SparkFixtures.texts(8));
        adapters = new ArrayList<>();
        for (int index = 0; index < ADAPTERS; index++) {
            Path recipe = SparkFixtures.recipe(directory.resolve(format("adapter-%d.yaml", index)), model, train, 4, 3, 100 + index, 0);
            adapters.add(SparkFixtures.trainOnOneMachine(recipe, directory.resolve(format("adapter-%d", index))).toString());
        }
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** Rows of mixed lengths, each naming one of four adapters, over three partitions: each row is predicted as on its own. */
    @Test
    void testRowsRoutedToFourAdaptersEqualPerRowPrediction() {
        List<Row> rows = new ArrayList<>();
        String[] texts = {"hello", "a longer line of text", "xyz", "graft on spark", "q", "twelve chars"};
        for (int index = 0; index < 18; index++) {
            rows.add(RowFactory.create(index, texts[index % texts.length], format("adapter-%d", (index * 7) % ADAPTERS)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType).add("task", DataTypes.StringType);
        Dataset<Row> input = spark.createDataFrame(JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, 3), schema);

        List<Row> predicted = SparkInference.predict(input, new SparkInference.Options("text", "task", adapters, null, List.of(), MAX_LENGTH))
                .orderBy("id").collectAsList();

        assertThat(predicted).hasSize(rows.size());
        assertThat(predicted.get(0).schema().fieldNames()).containsExactly("id", "text", "task", "next_token", "next_token_logits");
        assertThat(ExecutorCache.modelLoads()).as("the base model is loaded once per JVM (driver and local executor share it)").isEqualTo(1);
        try (RoutedModel reference = RoutedModel.open(adapters.stream().map(Path::of).toList(), null, SparkFixtures.registry());
                TrainingTokenizer tokenizer = reference.tokenizer(MAX_LENGTH)) {
            for (Row row : predicted) {
                float[] expected = lastLogits(reference, tokenizer, row.getString(1), row.getString(2));
                List<Float> actual = row.getList(4);
                assertThat(actual).hasSize(expected.length);
                int best = 0;
                for (int token = 0; token < expected.length; token++) {
                    assertThat(actual.get(token)).as("row %d token %d", row.getInt(0), token).isCloseTo(expected[token], Offset.offset(1e-5f));
                    best = expected[token] > expected[best] ? token : best;
                }
                assertThat(row.getLong(3)).isEqualTo(best);
            }
        }
    }

    /** One row alone, as graft predict runs a line: its adapter only, no padding. */
    private static float[] lastLogits(RoutedModel model, TrainingTokenizer tokenizer, String text, String adapter) {
        long[] ids = tokenizer.encode(text).ids();
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        try (NDManager scope = model.manager().newSubManager()) {
            NDList inputs = model.task().inputs(scope, new long[][] {ids}, new long[][] {mask}, null);
            NDArray logits = model.logits(new ParameterStore(scope, false), inputs, List.of(adapter));
            return logits.get(0).get(ids.length - 1).toFloatArray();
        }
    }

    private static String format(String pattern, Object... arguments) {
        return String.format(Locale.ROOT, pattern, arguments);
    }
}
