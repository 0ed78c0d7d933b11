package dev.graft.spark;

import static dev.graft.spark.SparkFixtures.adapterTensors;
import static dev.graft.spark.SparkFixtures.maxDifference;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.data.DataSplit;
import dev.graft.runtime.report.MetricsLog;
import dev.graft.runtime.report.MetricsRecord;
import dev.graft.runtime.train.RunFolder;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

final class TestSparkTraining {
    private static final int TASKS = 2;
    private static final int BATCH = 2;
    private static final int EXAMPLES = 16;
    private static final int STEPS = 4;
    private static final long SEED = 7;
    /** The steps the tasks of a retried stage take (local mode: the tasks run in this JVM). */
    private static final Queue<Long> RETRIED_STEPS = new ConcurrentLinkedQueue<>();

    @TempDir
    static Path directory;
    private static SparkSession spark;
    private static Path model;

    @BeforeAll
    static void start() {
        spark = SparkFixtures.session(TASKS);
        model = SparkFixtures.tinyLlama(directory.resolve("tiny-llama"));
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /**
     * Two partitions of batch b, gradients averaged, equal one machine with batch 2b on the same examples per step.
     * The single-machine file is ordered so that its epoch order puts in step k what the two tasks' epoch orders
     * (of their halves) put in their step k.
     */
    @Test
    void testTwoPartitionsEqualOneMachineWithTwiceTheBatch() {
        List<String> single = SparkFixtures.texts(EXAMPLES);
        List<List<String>> partitions = partitionsFor(single);
        Path singleRun = SparkFixtures.trainOnOneMachine(
                SparkFixtures.recipe(directory.resolve("single.yaml"), model, SparkFixtures.jsonl(directory.resolve("single.jsonl"), single), TASKS * BATCH, STEPS, SEED, 0),
                directory.resolve("single-run"));

        SparkTraining.Result result = SparkTraining.train(dataFrame(partitions), recipe("spark.yaml"), directory.resolve("spark-run"), SparkTraining.Options.defaults());

        assertThat(result.tasks()).isEqualTo(TASKS);
        assertThat(result.examplesPerTask()).isEqualTo(EXAMPLES / TASKS);
        assertThat(result.steps()).isEqualTo(STEPS);
        assertThat(result.tokensPerSecond()).isPositive();
        Path sparkRun = result.folder();
        assertThat(sparkRun.resolve(RunFolder.RECIPE)).isRegularFile();
        assertThat(sparkRun.resolve(RunFolder.REPORT)).isRegularFile();
        List<MetricsRecord> sparkMetrics = MetricsLog.read(sparkRun.resolve(RunFolder.METRICS));
        List<MetricsRecord> singleMetrics = MetricsLog.read(singleRun.resolve(RunFolder.METRICS));
        assertThat(sparkMetrics).hasSize(STEPS);
        for (int index = 0; index < STEPS; index++) {
            assertThat(sparkMetrics.get(index).values().get("grad_norm")).isCloseTo(singleMetrics.get(index).values().get("grad_norm"), org.assertj.core.data.Offset.offset(1e-4));
        }
        Map<String, float[]> expected = adapterTensors(singleRun);
        assertThat(expected).isNotEmpty();
        assertThat(maxDifference(expected, adapterTensors(sparkRun))).isLessThan(1e-5);
    }

    /** A task that fails once at step 3 makes the stage retry from the step-2 checkpoint; the adapter is the same. */
    @Test
    void testFailedTaskRetriesFromCheckpoint() throws Exception {
        List<List<String>> partitions = partitionsFor(SparkFixtures.texts(EXAMPLES));
        Path recipe = SparkFixtures.recipe(directory.resolve("retry.yaml"), model, directory.resolve("unused.jsonl"), BATCH, STEPS, SEED, 1);
        SparkTraining.Result uninterrupted = SparkTraining.train(dataFrame(partitions), recipe, directory.resolve("uninterrupted"), SparkTraining.Options.defaults());
        RETRIED_STEPS.clear();
        String checkpoint = directory.resolve("retried").resolve(RunFolder.CHECKPOINTS).resolve("step-000002").toString();
        StepObserver failOnce = (partition, attempt, step) -> {
            if (attempt > 0) {
                RETRIED_STEPS.add(step);
            }
            if (partition == 1 && attempt == 0 && step == 3) {
                awaitCheckpoint(checkpoint);
                throw new IllegalStateException("injected failure of task 1 at step 3");
            }
        };
        SparkTraining.Result retried = SparkTraining.train(dataFrame(partitions), recipe, directory.resolve("retried"),
                new SparkTraining.Options(0, List.of(), false, failOnce));

        assertThat(retried.steps()).isEqualTo(STEPS);
        assertThat(RETRIED_STEPS).as("the retried stage starts both tasks after the step-2 checkpoint").containsExactly(3L, 3L, 4L, 4L);
        assertThat(Files.readString(retried.folder().resolve(RunFolder.REPORT))).isNotBlank();
        assertThat(MetricsLog.read(retried.folder().resolve(RunFolder.METRICS))).extracting(MetricsRecord::step).containsExactly(1L, 2L, 3L, 4L);
        assertThat(maxDifference(adapterTensors(uninterrupted.folder()), adapterTensors(retried.folder()))).isLessThan(1e-6);
    }

    /** Local SGD: every task steps on its own gradients and the weights are averaged every 2 steps; it trains and writes the adapter. */
    @Test
    void testWeightAveraging() {
        List<List<String>> partitions = partitionsFor(SparkFixtures.texts(EXAMPLES));
        SparkTraining.Result result = SparkTraining.train(dataFrame(partitions), recipe("average.yaml"), directory.resolve("average"),
                new SparkTraining.Options(2, List.of(), false, StepObserver.NONE));

        assertThat(result.steps()).isEqualTo(STEPS);
        Map<String, float[]> tensors = adapterTensors(result.folder());
        assertThat(tensors).isNotEmpty();
        assertThat(tensors.values()).allSatisfy(values -> assertThat(values).doesNotContain(Float.NaN));
    }

    /** Task 0 writes the step-2 checkpoint while task 1 is already at step 3: the failure waits for it, so the retry starts from it. */
    private static void awaitCheckpoint(String checkpoint) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!Files.isDirectory(Path.of(checkpoint)) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private static Path recipe(String name) {
        return SparkFixtures.recipe(directory.resolve(name), model, directory.resolve("unused.jsonl"), BATCH, STEPS, SEED, 0);
    }

    /**
     * The two halves whose own epoch orders take, in step k, the examples that {@code single}'s epoch order takes in
     * step k with twice the batch: task r's b examples are the r-th b of the step's 2b.
     */
    private static List<List<String>> partitionsFor(List<String> single) {
        int half = single.size() / TASKS;
        int[] singleOrder = DataSplit.epochOrder(single.size(), SEED, 0);
        int[] taskOrder = DataSplit.epochOrder(half, SEED, 0);
        List<List<String>> partitions = new ArrayList<>();
        for (int task = 0; task < TASKS; task++) {
            String[] partition = new String[half];
            for (int position = 0; position < half; position++) {
                int step = position / BATCH;
                int within = position % BATCH;
                partition[taskOrder[position]] = single.get(singleOrder[step * TASKS * BATCH + task * BATCH + within]);
            }
            partitions.add(List.of(partition));
        }
        return partitions;
    }

    private static Dataset<Row> dataFrame(List<List<String>> partitions) {
        List<Row> rows = new ArrayList<>();
        for (List<String> partition : partitions) {
            for (String text : partition) {
                rows.add(RowFactory.create(text));
            }
        }
        StructType schema = new StructType().add("text", DataTypes.StringType);
        JavaSparkContext context = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataFrame(context.parallelize(rows, partitions.size()), schema);
    }
}
