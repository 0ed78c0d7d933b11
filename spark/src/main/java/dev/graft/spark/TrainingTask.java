package dev.graft.spark;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.data.DataFiles;
import dev.graft.runtime.data.DataFormat;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.SourceLine;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.train.FineTuner;
import dev.graft.runtime.train.RunFolder;
import dev.graft.runtime.train.RunResult;
import dev.graft.runtime.train.RunSetup;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.sql.Row;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * One task of the barrier stage of {@link SparkTraining}: trains on its partition with its gradients all-reduced.
 * Task 0 trains in the run folder; the others train in a private scratch folder (what they would write is what
 * task 0 writes), started from a copy of the run folder so that a retried stage resumes every task from the same
 * checkpoint. Returns one line: the steps and training tokens per second (task 0's is the job's report).
 */
final class TrainingTask extends AbstractFunction1<scala.collection.Iterator<Row>, scala.collection.Iterator<String>> implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Tasks of one executor JVM build their run one at a time: the seeded adapter initialisation uses the JVM's one generator. */
    private static final Object SETUP = new Object();

    private final String recipeYaml;
    private final String output;
    private final int examples;
    private final int averageWeightsEvery;
    private final List<String> pluginDirectories;
    private final StepObserver observer;

    TrainingTask(String recipeYaml, String output, int examples, int averageWeightsEvery, List<String> pluginDirectories, StepObserver observer) {
        this.recipeYaml = requireNonNull(recipeYaml, "recipeYaml is null");
        this.output = requireNonNull(output, "output is null");
        this.examples = examples;
        this.averageWeightsEvery = averageWeightsEvery;
        this.pluginDirectories = List.copyOf(pluginDirectories);
        this.observer = requireNonNull(observer, "observer is null");
    }

    /** Task 0's line: steps and tokens per second. */
    record Report(boolean writer, long steps, double tokensPerSecond) {
        /** The first word of task 0's line. */
        static final String WRITER = "writer";

        String format() {
            return String.format(Locale.ROOT, "%s %d %s", writer ? WRITER : "worker", steps, tokensPerSecond);
        }

        static Report parse(String line) {
            String[] parts = line.split(" ");
            return new Report(parts[0].equals(WRITER), Long.parseLong(parts[1]), Double.parseDouble(parts[2]));
        }
    }

    @Override
    public scala.collection.Iterator<String> apply(scala.collection.Iterator<Row> partitionRows) {
        TaskThreads.prepare();
        BarrierTaskContext context = BarrierTaskContext.get();
        int partition = context.partitionId();
        Iterator<Row> rows = CollectionConverters.asJava(partitionRows);
        List<Example> train = new ArrayList<>();
        Path source = Path.of(format("partition-%d", partition));
        while (rows.hasNext() && train.size() < examples) {
            train.add(example(source, train.size() + 1, rows.next()));
        }
        Path scratch = null;
        try {
            Path recipeFile = Files.createTempFile("graft-spark-recipe", ".yaml");
            Files.writeString(recipeFile, recipeYaml, StandardCharsets.UTF_8);
            Recipe recipe = Recipe.read(recipeFile);
            Files.delete(recipeFile);
            RunFolder shared = new RunFolder(Path.of(output));
            // Every task of this attempt sees the same newest checkpoint: task 0 writes only after this barrier.
            context.barrier();
            RunFolder folder = shared;
            if (partition != 0) {
                scratch = Files.createTempDirectory("graft-spark-task");
                copyRun(shared.root(), scratch);
                folder = new RunFolder(scratch);
            }
            context.barrier();
            MethodRegistry registry = ExecutorCache.registry(pluginDirectories);
            PrintStream console = partition == 0 ? System.err : new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
            FineTuner.Options options = new FineTuner.Options(console, false, List.of(), new BarrierAllReduce(context, averageWeightsEvery, observer));
            RunSetup setup;
            synchronized (SETUP) {
                setup = RunSetup.create(recipe, registry, train, validation(recipe));
            }
            // No task trains (and reseeds the JVM's generator each step) while another one of its JVM still
            // initialises its adapter from the recipe's seed.
            context.barrier();
            RunResult result;
            try (setup) {
                result = folder.latestCheckpoint().isPresent() ? FineTuner.resume(setup, folder, options) : FineTuner.train(setup, folder, options);
            }
            return CollectionConverters.asScala(List.of(new Report(partition == 0, result.steps(), result.tokensPerSecond()).format()).iterator());
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        finally {
            if (scratch != null) {
                RunFolder.deleteRecursively(scratch);
            }
        }
    }

    private static List<Example> validation(Recipe recipe) {
        String file = recipe.data().validation();
        if (file == null) {
            return List.of();
        }
        return DataFiles.read(Path.of(file), DataFormat.valueOf(recipe.data().format().toUpperCase(Locale.ROOT)));
    }

    /** A row as an example: every non-null column as text. */
    static Example example(Path source, long line, Row row) {
        Map<String, String> fields = new LinkedHashMap<>();
        String[] names = row.schema().fieldNames();
        for (int index = 0; index < names.length; index++) {
            if (!row.isNullAt(index)) {
                fields.put(names[index], String.valueOf(row.get(index)));
            }
        }
        return new Example(new SourceLine(source, line), fields);
    }

    private static void copyRun(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                }
                else {
                    Files.copy(path, target);
                }
            }
        }
    }
}
