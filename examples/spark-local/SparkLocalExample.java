import dev.graft.runtime.loader.TinyLlama;
import dev.graft.spark.SparkInference;
import dev.graft.spark.SparkTraining;
import dev.graft.spark.StepObserver;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Graft on Spark in local mode: trains a LoRA adapter on a tiny Llama with one barrier task per core (gradients
 * averaged every step, or weights every K steps), then predicts with it over a DataFrame. Run it with run.sh.
 *
 * Arguments: [cores (default 2)] [average weights every K steps (default 0: average gradients every step)]
 */
public final class SparkLocalExample {
    public static void main(String[] arguments) throws Exception {
        int cores = arguments.length > 0 ? Integer.parseInt(arguments[0]) : 2;
        int averageWeightsEvery = arguments.length > 1 ? Integer.parseInt(arguments[1]) : 0;
        Path examples = Path.of("examples");
        Path work = Path.of("runs", "spark-local");
        Path model = work.resolve("tiny-llama");
        if (!Files.isDirectory(model)) {
            TinyLlama.write(model, TinyLlama.config(2, 64, 128, 4, 2), 1);
        }
        SparkSession spark = SparkSession.builder()
                .master(String.format(Locale.ROOT, "local[%d,4]", cores))
                .appName("graft-spark-local")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
        try {
            Dataset<Row> train = spark.read().json(examples.resolve("data/uppercase/train.jsonl").toString()).repartition(cores);
            Path run = work.resolve(String.format(Locale.ROOT, "run-%d-tasks", cores));
            SparkTraining.Result result = SparkTraining.train(train, examples.resolve("spark-local/recipe.yaml"), run,
                    new SparkTraining.Options(averageWeightsEvery, List.of(), true, StepObserver.NONE));
            System.out.printf(Locale.ROOT, "trained %s: %d tasks x %d examples, %d steps, %.0f training tokens/s (all tasks), %.1f s wall%n",
                    result.folder(), result.tasks(), result.examplesPerTask(), result.steps(), result.tokensPerSecond(), result.wallSeconds());

            Dataset<Row> prompts = spark.read().json(examples.resolve("data/uppercase/validation.jsonl").toString()).limit(5)
                    .withColumn("adapter", functions.lit(run.getFileName().toString()));
            SparkInference.predict(prompts, new SparkInference.Options("prompt", "adapter", List.of(run.toString()), null, List.of(), 64))
                    .select("prompt", "adapter", "next_token").show(false);
        }
        finally {
            spark.stop();
        }
    }
}
