package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.inject.Inject;
import dev.graft.runtime.data.DataFiles;
import dev.graft.runtime.data.DataFormat;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.report.MetricsTable;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.train.ClassificationMetrics;
import dev.graft.runtime.train.FineTuner;
import dev.graft.runtime.train.RunFolder;
import dev.graft.runtime.train.RunResult;
import dev.graft.runtime.train.Runs;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code graft quickstart}: fine-tunes the bundled all-MiniLM-L6-v2 to tell spam from ham on the SpamAssassin sample
 * the distribution carries, with a gated combination of LoRA, a bottleneck adapter and prefix tuning
 * ({@code examples/quickstart.yaml}), against two baselines measured in the same run: the majority class, and the
 * frozen encoder with only the classification head trained. Prints the table and writes the run's report.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tunes all-MiniLM-L6-v2 to tell spam from ham (a SpamAssassin sample) with gated LoRA, a bottleneck adapter and prefix tuning.",
                "Compares it with the majority class and with a frozen encoder whose head alone is trained, and writes a report. Under 10 minutes on 2 cores."},
        footer = {"", "Afterwards look at runs/quickstart/report.md and runs/quickstart/training.png, and try:",
                "  graft predict --adapter runs/quickstart --text \"Congratulations! You have won a FREE cruise, click here\"",
                "", "Exit codes: 0 done, 1 training failed, 2 bad input."})
public final class QuickstartCommand implements Callable<Integer> {
    /** The quickstart recipe, relative to the distribution's root. */
    public static final String RECIPE = "examples/quickstart.yaml";

    @Mixin
    private PluginOptions pluginOptions;

    @Option(names = "--output", paramLabel = "DIR", defaultValue = "runs/quickstart", description = "Where the run goes (replacing an earlier quickstart). Default: ${DEFAULT-VALUE}.")
    private Path output;

    @Option(names = "--recipe", paramLabel = "FILE", description = "Another recipe to run the same way (default: the distribution's " + RECIPE + ").")
    private Path recipe;

    @Option(names = "--max-steps", paramLabel = "N", description = "Stop each training after N steps (a shorter try).")
    private Integer maxSteps;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        long started = System.nanoTime();
        Path recipeFile = recipe != null ? recipe : quickstartRecipe();
        Map<String, Object> overrides = new LinkedHashMap<>();
        if (maxSteps != null) {
            overrides.put("training.max_steps", maxSteps);
        }
        Recipe parsed = Recipe.read(recipeFile, overrides);
        PrintWriter out = spec.commandLine().getOut();
        FineTuner.Options console = new FineTuner.Options(System.err, System.console() != null, List.of());

        RunMetrics majority = majorityBaseline(parsed.data());
        System.err.println(format("1/2: baseline, the frozen encoder with only its classification head trained (%s)", parsed.model()));
        RunFolder headOnlyFolder = new RunFolder(output.resolve("baselines").resolve("head-only"));
        RunResult headOnly = Runs.start(parsed.withAdapters(List.of()), headOnlyFolder, true, registry, console);
        List<RunMetrics> baselines = new ArrayList<>();
        headOnly.best().ifPresent(best -> baselines.add(new RunMetrics("frozen encoder, head only", best.metrics())));
        baselines.add(majority);

        System.err.println(format("2/2: %d adapters, gated, from %s", parsed.adapters().size(), recipeFile));
        RunResult result = Runs.start(parsed, new RunFolder(output), true, registry, new FineTuner.Options(System.err, System.console() != null, baselines));

        List<RunMetrics> runs = new ArrayList<>();
        result.best().ifPresent(best -> runs.add(new RunMetrics("gated lora + adapter + prefix", best.metrics())));
        runs.addAll(baselines);
        out.println();
        out.println("Validation results (" + parsed.data().validation() + "):");
        MetricsTable.render(runs).forEach(out::println);
        out.println();
        out.println(format(Locale.ROOT, "training: %d steps at %.0f tokens/s; quickstart wall time %.1f min",
                result.steps(), result.tokensPerSecond(), (System.nanoTime() - started) / 60e9));
        out.println(format("report: %s", result.folder().resolve(RunFolder.REPORT)));
        out.println(format("plot:   %s", result.folder().resolve(RunFolder.PLOT)));
        out.println(format("try:    graft predict --adapter %s --text \"Congratulations! You have won a FREE cruise, click here\"", result.folder()));
        out.flush();
        return 0;
    }

    private static Path quickstartRecipe() {
        Optional<Path> home = Optional.ofNullable(System.getProperty(GraftMain.GRAFT_HOME_PROPERTY)).map(Path::of);
        Path file = home.map(folder -> folder.resolve(RECIPE)).orElse(Path.of(RECIPE));
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(format("the quickstart recipe %s is missing: run the quickstart from the distribution (./graft quickstart), or give --recipe FILE",
                    file.toAbsolutePath().normalize()));
        }
        return file;
    }

    /** The majority class of the training data, predicted for every validation example. */
    static RunMetrics majorityBaseline(DataSection data) {
        if (data.validation() == null) {
            throw new IllegalArgumentException("the quickstart compares on a validation file: set data.validation in the recipe");
        }
        DataFormat format = DataFormat.valueOf(data.format().toUpperCase(Locale.ROOT));
        List<Example> train = DataFiles.read(Path.of(data.train()), format);
        List<Example> validation = DataFiles.read(Path.of(data.validation()), format);
        Map<String, Integer> counts = new TreeMap<>();
        train.forEach(example -> counts.merge(example.require(data.labelField(), "set data.label_field"), 1, Integer::sum));
        List<String> labels = new ArrayList<>(counts.keySet());
        String majority = counts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        int[] truth = new int[validation.size()];
        int[] predictions = new int[validation.size()];
        for (int index = 0; index < truth.length; index++) {
            Example example = validation.get(index);
            truth[index] = labels.indexOf(example.require(data.labelField(), "set data.label_field"));
            if (truth[index] < 0) {
                throw new IllegalArgumentException(format("%s: label '%s' does not occur in the training data %s", example.source(), example.fields().get(data.labelField()), labels));
            }
            predictions[index] = labels.indexOf(majority);
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("accuracy", ClassificationMetrics.accuracy(truth, predictions));
        metrics.put("macro_f1", ClassificationMetrics.macroF1(truth, predictions, labels.size()));
        return new RunMetrics(format("majority class (%s)", majority), metrics);
    }
}
