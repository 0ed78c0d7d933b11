package dev.graft.spark;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.recipe.OutputSection;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.recipe.RecipeWriter;
import dev.graft.runtime.train.RunFolder;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import scala.Tuple2;
import scala.reflect.ClassTag$;

import java.nio.file.Path;
import java.util.List;

/**
 * Data-parallel training of one adapter on Spark: a barrier stage of one task per partition of a DataFrame. Each task
 * loads the base model, builds the same adapter with the recipe's seed, and trains on its partition; each optimizer
 * step the adapter gradients are averaged across the tasks through {@code BarrierTaskContext.allGather} (or, as an
 * option, the weights every K steps). Task 0 writes the run folder exactly as {@code graft train} does (recipe,
 * metrics, checkpoints, report and the final adapter); a stage that failed is retried from the last checkpoint.
 *
 * <p>The partitions are trimmed to the smallest one's size so that every task takes the same number of steps; with
 * N partitions of batch b a step sees N·b examples, as {@code graft train} with batch N·b does. Validation reads the
 * recipe's {@code data.validation} file (every task evaluates the same adapter on it); {@code data.validation_split}
 * does not apply, since the training data is the DataFrame.
 */
public final class SparkTraining {
    /**
     * How the job runs.
     *
     * @param averageWeightsEvery 0: average the gradients every step (equals single-machine training with N times the
     *        batch); K &gt; 0: each task steps on its own gradients and the weights are averaged every K steps (local SGD)
     * @param pluginDirectories plugin folders every executor can read (the distribution's {@code plugins/}); methods on
     *        the class path are found too
     * @param overwrite whether to replace an earlier run in the output folder
     * @param observer sees every step of every task (serializable: it runs on the executors)
     */
    public record Options(int averageWeightsEvery, List<String> pluginDirectories, boolean overwrite, StepObserver observer) {
        public Options {
            if (averageWeightsEvery < 0) {
                throw new IllegalArgumentException(format("averageWeightsEvery must be 0 (average gradients every step) or positive, not %d", averageWeightsEvery));
            }
            pluginDirectories = List.copyOf(pluginDirectories);
            requireNonNull(observer, "observer is null");
        }

        /** Gradient averaging every step, no plugin folders, no overwriting. */
        public static Options defaults() {
            return new Options(0, List.of(), false, StepObserver.NONE);
        }
    }

    /**
     * What the job produced.
     *
     * @param folder the run folder (written by task 0)
     * @param tasks the tasks (partitions) that trained
     * @param examplesPerTask the training examples each task had
     * @param steps the optimizer steps taken
     * @param tokensPerSecond the training tokens per second of all tasks together (task 0's tokens times the tasks,
     *        over task 0's training time)
     * @param wallSeconds the job's wall time on the driver, retries included
     */
    public record Result(Path folder, int tasks, int examplesPerTask, long steps, double tokensPerSecond, double wallSeconds) {
        public Result {
            requireNonNull(folder, "folder is null");
        }
    }

    private SparkTraining() {}

    /**
     * Trains the recipe in {@code recipeFile} on {@code data} (one row per example, with the recipe's text, label or
     * prompt and completion fields as columns), one barrier task per partition, into {@code output}. The recipe's
     * {@code data.train} is ignored; its {@code data.validation} file, if any, must be readable by every executor.
     */
    public static Result train(Dataset<Row> data, Path recipeFile, Path output, Options options) {
        requireNonNull(data, "data is null");
        requireNonNull(recipeFile, "recipeFile is null");
        requireNonNull(output, "output is null");
        requireNonNull(options, "options is null");
        long started = System.nanoTime();
        RunFolder folder = new RunFolder(output);
        folder.prepareNewRun(options.overwrite());
        Recipe recipe = Recipe.read(recipeFile);
        recipe = recipe.withOutput(new OutputSection(folder.root().toString(), recipe.output().overwrite()));
        recipe = withLabels(recipe, data);
        JavaRDD<Row> rows = data.toJavaRDD();
        List<Long> sizes = rows.mapPartitions(partition -> {
            long count = 0;
            while (partition.hasNext()) {
                partition.next();
                count++;
            }
            return List.of(count).iterator();
        }).collect();
        int tasks = sizes.size();
        int examplesPerTask = Math.toIntExact(sizes.stream().mapToLong(Long::longValue).min().orElse(0));
        if (examplesPerTask == 0) {
            throw new IllegalArgumentException(format("a partition of the training data is empty (partition sizes %s): repartition the data so that every partition has examples", sizes));
        }
        TrainingTask task = new TrainingTask(RecipeWriter.toYaml(recipe), folder.root().toString(), examplesPerTask, options.averageWeightsEvery(),
                options.pluginDirectories(), options.observer());
        // The shuffle after the barrier stage makes it a shuffle map stage, which Spark retries as a whole when a task
        // fails; a failed barrier result stage is not retried.
        List<String> reports = rows.rdd().barrier().mapPartitions(task, false, ClassTag$.MODULE$.apply(String.class)).toJavaRDD()
                .mapToPair(line -> new Tuple2<>(line.startsWith(TrainingTask.Report.WRITER) ? 0 : 1, line)).groupByKey(1).sortByKey()
                .flatMap(group -> group._2().iterator()).collect();
        TrainingTask.Report report = TrainingTask.Report.parse(reports.get(0));
        double wall = (System.nanoTime() - started) / 1e9;
        return new Result(folder.root(), tasks, examplesPerTask, report.steps(), report.tokensPerSecond() * tasks, wall);
    }

    /** A classification recipe without {@code task.labels} gets the sorted labels of all the data (a task sees only its share). */
    private static Recipe withLabels(Recipe recipe, Dataset<Row> data) {
        String labelField = recipe.data().labelField();
        if (recipe.task().labels() != null || "causal-lm".equals(recipe.task().type()) || !List.of(data.columns()).contains(labelField)) {
            return recipe;
        }
        List<String> labels = data.select(labelField).distinct().collectAsList().stream().map(row -> String.valueOf(row.get(0))).sorted().toList();
        return recipe.withTask(recipe.task().withLabels(labels));
    }
}
