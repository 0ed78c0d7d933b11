package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.inject.Inject;
import dev.graft.runtime.data.DataFiles;
import dev.graft.runtime.data.DataFormat;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.report.GateHeatMap;
import dev.graft.runtime.report.MetricsTable;
import dev.graft.runtime.report.Report;
import dev.graft.runtime.report.ReportContent;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.train.Evaluation;
import dev.graft.runtime.train.Evaluator;
import dev.graft.runtime.train.RunReport;
import dev.graft.runtime.train.TrainedModel;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft evaluate --adapter DIR --data FILE}: the metrics of a trained adapter on a labelled file. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Evaluates a trained adapter on a labelled JSONL or CSV file: loss, accuracy and macro-F1 (classification) or perplexity (causal LM).",
        footer = {"", "Examples:",
                "  graft evaluate --adapter runs/quickstart --data examples/data/spam-assassin/validation.jsonl",
                "  graft evaluate --adapter path/to/peft-adapter --model path/to/model --data test.csv --label-field sentiment",
                "  graft evaluate --adapter runs/unipelt --data test.jsonl --output runs/unipelt-test   (report.md, and gates.png when gated)",
                "", "Exit codes: 0 done, 1 evaluation failed, 2 bad input."})
public final class EvaluateCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Mixin
    private DataOptions dataOptions;

    @Option(names = "--data", paramLabel = "FILE", required = true, description = "The labelled examples (JSONL or CSV).")
    private Path data;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "Examples per forward pass. Default: ${DEFAULT-VALUE}.")
    private int batchSize;

    @Option(names = "--output", paramLabel = "DIR",
            description = "Also write report.md (the metrics and, when adapters are gated, the mean gate per layer and adapter) and gates.png (its heat map) into DIR.")
    private Path output;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        try (TrainedModel trained = dataOptions.open(registry)) {
            DataSection settings = dataOptions.settings(trained);
            List<Example> examples = DataFiles.read(data, DataFormat.valueOf(settings.format().toUpperCase(Locale.ROOT)));
            try (TrainingTokenizer tokenizer = trained.tokenizer(settings.maxLength())) {
                Evaluator evaluator = new Evaluator(trained.task(), trained.encoder(tokenizer, settings), tokenizer.padTokenId(), batchSize);
                Evaluation evaluation = evaluator.evaluate(examples, trained.manager());
                PrintWriter out = spec.commandLine().getOut();
                out.println(format("%d examples of %s, %s", examples.size(), data, trained.task().type().recipeName()));
                MetricsTable.render(List.of(new RunMetrics(RunReport.runName(trained.task()), evaluation.metrics()))).forEach(out::println);
                for (Map.Entry<String, Double> gate : evaluation.gates().entrySet()) {
                    out.println(format(Locale.ROOT, "mean gate of %s: %.4f", gate.getKey(), gate.getValue()));
                }
                if (!evaluation.layerGates().isEmpty()) {
                    out.println("mean gate per layer and adapter:");
                    evaluation.layerGates().table().forEach(out::println);
                }
                if (output != null) {
                    writeReport(evaluation, RunReport.runName(trained.task()), examples.size());
                    out.println(format("wrote %s: report.md%s", output, evaluation.layerGates().isEmpty() ? "" : ", " + GATES_PLOT));
                }
                out.flush();
            }
        }
        return 0;
    }

    private static final String GATES_PLOT = "gates.png";

    private void writeReport(Evaluation evaluation, String runName, int examples) {
        try {
            Files.createDirectories(output);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot create the output folder %s: %s", output, e.getMessage()), e);
        }
        String title = format("%s evaluated on %s", runName, data.getFileName());
        Map<String, String> files = new LinkedHashMap<>();
        String gatePlot = null;
        if (!evaluation.layerGates().isEmpty()) {
            GateHeatMap.write(output.resolve(GATES_PLOT), evaluation.layerGates(), format("mean gate per layer and adapter, %s", title));
            gatePlot = GATES_PLOT;
            files.put(GATES_PLOT, "the heat map of the mean gate per layer and adapter");
        }
        String summary = format("Evaluated on `%s`: %d examples, %d tokens.", data, examples, evaluation.tokens());
        Report.write(output.resolve("report.md"), new ReportContent(title, summary, List.of(), MetricsTable.render(List.of(new RunMetrics(runName, evaluation.metrics()))),
                null, files, evaluation.layerGates().table(), gatePlot));
    }
}
