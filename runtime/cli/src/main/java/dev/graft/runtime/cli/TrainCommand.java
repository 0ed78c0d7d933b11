package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.inject.Inject;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.report.MetricsTable;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.train.FineTuner;
import dev.graft.runtime.train.RunFolder;
import dev.graft.runtime.train.RunResult;
import dev.graft.runtime.train.Runs;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code graft train RECIPE [overrides]} trains a recipe into its output folder; {@code graft train --resume DIR}
 * continues a stopped run from its newest checkpoint.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tunes a model with the adapters of a recipe (YAML or JSON) and writes the adapter, metrics, plot and report.",
                "The progress goes to standard error; the final table to standard output."},
        footer = {"", "Examples:",
                "  graft train examples/lora.yaml",
                "  graft train examples/lora.yaml --learning-rate 1e-4 --epochs 1 --output runs/lora-short",
                "  graft train --resume runs/lora",
                "", "Exit codes: 0 done, 1 training failed (the message says why), 2 bad input (recipe, data, options)."})
public final class TrainCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Parameters(index = "0", arity = "0..1", paramLabel = "RECIPE", description = "The recipe file (YAML or JSON); see examples/.")
    private Path recipe;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run in DIR (an earlier output folder) from its newest checkpoint.")
    private Path resume;

    @Option(names = "--output", paramLabel = "DIR", description = "The output folder (overrides output.dir; default runs/<recipe name>).")
    private Path output;

    @Option(names = "--overwrite", description = "Replace an earlier run in the output folder (overrides output.overwrite).")
    private boolean overwrite;

    @Option(names = "--model", paramLabel = "DIR|minilm", description = "The base model (overrides model).")
    private String model;

    @Option(names = "--train", paramLabel = "FILE", description = "The training data (overrides data.train).")
    private Path train;

    @Option(names = "--validation", paramLabel = "FILE", description = "The validation data (overrides data.validation).")
    private Path validation;

    @Option(names = "--epochs", paramLabel = "N", description = "Overrides training.epochs.")
    private Integer epochs;

    @Option(names = "--max-steps", paramLabel = "N", description = "Overrides training.max_steps (0: the epochs decide).")
    private Integer maxSteps;

    @Option(names = "--batch-size", paramLabel = "N", description = "Overrides training.batch_size.")
    private Integer batchSize;

    @Option(names = "--learning-rate", paramLabel = "LR", description = "Overrides training.learning_rate.")
    private Double learningRate;

    @Option(names = "--seed", paramLabel = "N", description = "Overrides training.seed.")
    private Long seed;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        FineTuner.Options options = new FineTuner.Options(System.err, System.console() != null);
        RunResult result;
        if (resume != null) {
            if (recipe != null || !overrides().isEmpty() || output != null) {
                throw new ParameterException(spec.commandLine(), "--resume continues a run with its own recipe.yaml: give no RECIPE, --output or overrides with it");
            }
            result = Runs.resume(new RunFolder(resume), registry, options);
        }
        else {
            if (recipe == null) {
                throw new ParameterException(spec.commandLine(), "give a RECIPE file to train, or --resume DIR to continue a run");
            }
            Recipe parsed = Recipe.read(recipe, overrides());
            Path folder = output != null ? output : parsed.output().dir() != null ? Path.of(parsed.output().dir()) : Path.of("runs", baseName(recipe));
            result = Runs.start(parsed, new RunFolder(folder), overwrite || parsed.output().overwrite(), registry, options);
        }
        printResult(spec.commandLine().getOut(), result);
        return 0;
    }

    /** The final table and where the run's files are. */
    static void printResult(PrintWriter out, RunResult result) {
        result.best().ifPresent(best -> MetricsTable.render(List.of(new RunMetrics("validation (kept adapter)", best.metrics()))).forEach(out::println));
        boolean gated = result.best().map(best -> !best.layerGates().isEmpty()).orElse(false);
        if (gated) {
            out.println("mean gate per layer and adapter (kept adapter, validation data):");
            result.best().orElseThrow().layerGates().table().forEach(out::println);
        }
        out.println(format(Locale.ROOT, "%d steps, %.0f training tokens/s, %.1f s; waited %.2f ms per step for data", result.steps(), result.tokensPerSecond(),
                result.wallSeconds(), result.dataWaitMillisPerStep()));
        boolean converted = Files.isDirectory(result.folder().resolve(RunFolder.CONVERTED_ADAPTER));
        out.println(format("wrote %s: %s/, %s%s, %s, %s%s", result.folder(), RunFolder.ADAPTER,
                converted ? RunFolder.CONVERTED_ADAPTER + "/ (converted to plain LoRA for the original base), " : "", RunFolder.REPORT, RunFolder.PLOT, RunFolder.METRICS,
                gated ? ", " + RunFolder.GATES_PLOT : ""));
        out.flush();
    }

    private Map<String, Object> overrides() {
        Map<String, Object> overrides = new LinkedHashMap<>();
        putIfSet(overrides, "model", model == null || Models.isMiniLm(model) ? model : Path.of(model).toAbsolutePath().normalize().toString());
        putIfSet(overrides, "data.train", train == null ? null : train.toAbsolutePath().normalize().toString());
        putIfSet(overrides, "data.validation", validation == null ? null : validation.toAbsolutePath().normalize().toString());
        putIfSet(overrides, "training.epochs", epochs);
        putIfSet(overrides, "training.max_steps", maxSteps);
        putIfSet(overrides, "training.batch_size", batchSize);
        putIfSet(overrides, "training.learning_rate", learningRate);
        putIfSet(overrides, "training.seed", seed);
        return overrides;
    }

    private static void putIfSet(Map<String, Object> overrides, String path, Object value) {
        if (value != null) {
            overrides.put(path, value);
        }
    }

    private static String baseName(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
