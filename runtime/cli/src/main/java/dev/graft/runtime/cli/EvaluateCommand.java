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
import dev.graft.runtime.report.MetricsTable;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.train.Evaluation;
import dev.graft.runtime.train.Evaluator;
import dev.graft.runtime.train.RunReport;
import dev.graft.runtime.train.TrainedModel;

import java.io.PrintWriter;
import java.nio.file.Path;
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
                out.flush();
            }
        }
        return 0;
    }
}
