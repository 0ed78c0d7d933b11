package dev.graft.runtime.train;

import static java.lang.String.format;

import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.ModelReport;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.report.MetricsLog;
import dev.graft.runtime.report.MetricsTable;
import dev.graft.runtime.report.ParameterRow;
import dev.graft.runtime.report.ParameterTable;
import dev.graft.runtime.report.Report;
import dev.graft.runtime.report.GateHeatMap;
import dev.graft.runtime.report.GateMeans;
import dev.graft.runtime.report.ReportContent;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.report.TrainingPlot;
import dev.graft.runtime.task.TaskModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** What a run shows: the parameter table before training, evaluation lines, and the run's plot and {@code report.md}. */
public final class RunReport {
    private RunReport() {}

    /** One row per adapter, the gates and the head, then PEFT's {@code trainable params} line (head included). */
    public static List<String> parameterTable(TaskModel task) {
        PeftModel model = task.model();
        List<ParameterRow> rows = new ArrayList<>();
        int gates = 0;
        long gateParameters = 0;
        for (Adapter adapter : model.adapters().values()) {
            long gated = 0;
            for (Attachment attachment : adapter.attachments().values()) {
                if (attachment.gate().isPresent()) {
                    gates++;
                    gated += count(attachment.gate().get().getParameters().values());
                }
            }
            gateParameters += gated;
            rows.add(new ParameterRow(adapter.name(), adapter.descriptor().id(), adapter.composition().name().toLowerCase(Locale.ROOT), adapter.sites().size(),
                    count(adapter.trainableParameters()) - gated));
        }
        long head = count(task.headParameters());
        if (head > 0) {
            rows.add(new ParameterRow("classifier", "head", "trained in full", 1, head));
        }
        String line = ModelReport.trainableParametersLine(model.trainableParameterCount() + head, model.totalParameterCount() + head);
        return ParameterTable.render(rows, gates, gateParameters, line);
    }

    private static long count(List<Parameter> parameters) {
        Map<Parameter, Boolean> seen = new IdentityHashMap<>();
        long count = 0;
        for (Parameter parameter : parameters) {
            if (parameter.getArray() != null && seen.put(parameter, Boolean.TRUE) == null) {
                count += parameter.getArray().getShape().size();
            }
        }
        return count;
    }

    /** {@code step 40: validation loss 0.1234, accuracy 0.9700, macro_f1 0.9650; gates lowrank 0.48 ...}. */
    public static String evaluationLine(long step, Evaluation evaluation) {
        String metrics = evaluation.metrics().entrySet().stream()
                .map(entry -> format(Locale.ROOT, "%s %.4f", entry.getKey(), entry.getValue()))
                .collect(Collectors.joining(", "));
        String gates = evaluation.gates().isEmpty() ? "" : "; mean gates " + evaluation.gates().entrySet().stream()
                .map(entry -> format(Locale.ROOT, "%s %.3f", entry.getKey(), entry.getValue()))
                .collect(Collectors.joining(", "));
        return format("step %d: validation %s%s", step, metrics, gates);
    }

    /** The name of a run in tables: its adapters' methods joined, with the composition. */
    public static String runName(TaskModel task) {
        PeftModel model = task.model();
        if (model.adapters().isEmpty()) {
            return "frozen encoder, head only";
        }
        boolean gated = model.adapters().values().stream().anyMatch(adapter -> adapter.composition().name().equals("GATED"));
        String methods = model.adapters().values().stream().map(adapter -> adapter.descriptor().id()).collect(Collectors.joining(" + "));
        return (gated ? "gated " : "") + methods;
    }

    /**
     * Writes the plot ({@code training.png}) and {@code report.md} of a finished run, its best metrics first in the
     * results table, then {@code baselines}.
     */
    public static void write(RunSetup setup, RunFolder folder, RunResult result, List<RunMetrics> baselines) {
        Path metricsFile = folder.resolve(RunFolder.METRICS);
        String title = format("%s on %s", runName(setup.task()), setup.recipe().model());
        String plot = null;
        if (Files.isRegularFile(metricsFile)) {
            TrainingPlot.write(folder.resolve(RunFolder.PLOT), MetricsLog.read(metricsFile), title);
            plot = RunFolder.PLOT;
        }
        List<RunMetrics> runs = new ArrayList<>();
        result.best().ifPresent(best -> runs.add(new RunMetrics(runName(setup.task()), best.metrics())));
        runs.addAll(baselines);
        Map<String, String> files = new LinkedHashMap<>();
        files.put(RunFolder.ADAPTER + "/", "the adapters in PEFT's layout" + (setup.task().head().isPresent() ? ", each with the classification head (modules_to_save)" : ""));
        if (Files.exists(folder.resolve(RunFolder.BASE_WEIGHTS))) {
            files.put(RunFolder.BASE_WEIGHTS, "base weights a method changed during training (PeriodicLoRA's offloads)");
        }
        files.put(RunFolder.RECIPE, "the fully resolved recipe: graft train it to repeat the run");
        files.put(RunFolder.METRICS, "training and validation metrics, one JSON object per line");
        if (Files.exists(folder.resolve(RunFolder.PREDICTIONS))) {
            files.put(RunFolder.PREDICTIONS, "the kept adapter's prediction for every validation example");
        }
        GateMeans gates = result.best().map(Evaluation::layerGates).orElse(GateMeans.empty());
        String gatePlot = null;
        if (!gates.isEmpty()) {
            GateHeatMap.write(folder.resolve(RunFolder.GATES_PLOT), gates, format("mean gate per layer and adapter, %s", title));
            gatePlot = RunFolder.GATES_PLOT;
            files.put(RunFolder.GATES_PLOT, "the heat map of the kept adapter's mean gate per layer and adapter on the validation data");
        }
        files.put(RunFolder.CHECKPOINTS + "/", "the last checkpoints (graft train --resume " + folder.root() + ")");
        String summary = format(Locale.ROOT, "Fine-tuned `%s` for %s on `%s`: %d training and %d validation examples, %d steps, %.1f s of training at %.0f tokens/s "
                        + "(%.1f s wall time) on %d cores; the trainer waited %.2f ms per step for data.%s",
                setup.recipe().model(), setup.task().type().recipeName(), setup.recipe().data().train(), setup.train().size(), setup.validation().size(),
                result.steps(), result.trainingSeconds(), result.tokensPerSecond(), result.wallSeconds(), Runtime.getRuntime().availableProcessors(),
                result.dataWaitMillisPerStep(),
                result.best().isPresent() ? " The results are those of the kept (best) adapter on the validation data." : "");
        Report.write(folder.resolve(RunFolder.REPORT), new ReportContent(title, summary, parameterTable(setup.task()),
                runs.isEmpty() ? List.of("(no validation data)") : MetricsTable.render(runs), plot, files, gates.table(), gatePlot));
    }
}
