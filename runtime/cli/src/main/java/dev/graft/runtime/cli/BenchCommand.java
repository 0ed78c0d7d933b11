package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.google.inject.Inject;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.plugin.MethodRegistry;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code graft bench}: times the base forward, the training floor, a training step of each core method and
 * inference unmerged and merged, in one process on one model, and prints one table (see BENCHMARKS.md).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measures speed and memory in one process: the base forward, the floor (forward + backward through every frozen layer, activation "
                + "gradients only), a training step (forward, loss, backward, AdamW) of each core method and of full fine-tuning, and inference with each "
                + "method unmerged and merged. Per row: median/min/max ms, tokens/s, ratio to the floor (training) or the base forward (inference), trainable "
                + "parameters, optimizer state, peak process memory; for the base forward the achieved GFLOP/s against the machine's fp32 peak."},
        footer = {"", "Examples:",
                "  graft bench                                   (MiniLM, 16 x 128, every row)",
                "  graft bench --rows base,floor,lora --iterations 10",
                "  graft tiny-llama --layers 12 --hidden 768 --intermediate 2560 --heads 12 --kv-heads 12 --output llama-100m && graft bench --model llama-100m --batch 4"})
public final class BenchCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Option(names = "--model", paramLabel = ModelOptions.MODEL_LABEL, defaultValue = ModelOptions.MINILM, description = ModelOptions.MODEL_DESCRIPTION
            + " Default: ${DEFAULT-VALUE}.")
    private String model;

    @Option(names = "--batch", defaultValue = "16", description = "Examples per batch (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Option(names = "--length", defaultValue = "128", description = "Tokens per example, no padding (default: ${DEFAULT-VALUE}).")
    private int length;

    @Option(names = "--iterations", defaultValue = "5", description = "Measured iterations per row (default: ${DEFAULT-VALUE}).")
    private int iterations;

    @Option(names = "--warmup", defaultValue = "2", description = "Unmeasured iterations before each row (default: ${DEFAULT-VALUE}).")
    private int warmup;

    @Option(names = "--rows", paramLabel = "ROW", split = ",", description = "The rows to run, comma-separated, from: base, floor, lora, lora-all, ia3, vera, bone, "
            + "prefix, adapter, prompt, unipelt, full (default: all; rows whose method is not installed are skipped).")
    private List<String> rowKeys = new ArrayList<>();

    @Option(names = "--profile", paramLabel = "DIR", description = "Also record PyTorch's operator profile of each training row's measured iterations "
            + "(and the floor's) as a Chrome trace, DIR/<row>.json (open in chrome://tracing or Perfetto). Profiling slows the rows it records.")
    private Path profileDirectory;

    @Option(names = "--memory-steps", paramLabel = "N", defaultValue = "0", description = "Also train LoRA r=8 q,v for N steps and report the process's "
            + "resident memory after the warm-up (the first third) and at the end: native memory must stay flat (default: ${DEFAULT-VALUE}, off).")
    private int memorySteps;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        Set<String> keys = new LinkedHashSet<>(rowKeys.isEmpty() ? Bench.ROW_KEYS : rowKeys);
        for (String key : keys) {
            if (!Bench.ROW_KEYS.contains(key)) {
                throw new ParameterException(spec.commandLine(), format("--rows: unknown row '%s'; use %s", key, String.join(", ", Bench.ROW_KEYS)));
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        Bench bench;
        long parameters;
        String modelType;
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = Models.load(model, manager, WeightPrecision.FLOAT32)) {
            try {
                bench = new Bench(registry, loaded.model(), manager, batch, length, iterations, warmup);
            }
            catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage(), e);
            }
            if (memorySteps != 0) {
                try {
                    bench.measureMemoryOver(memorySteps);
                }
                catch (IllegalArgumentException e) {
                    throw new ParameterException(spec.commandLine(), e.getMessage(), e);
                }
            }
            if (profileDirectory != null) {
                createProfileDirectory();
                bench.profileInto(profileDirectory);
            }
            modelType = loaded.model().modelType();
            parameters = new dev.graft.runtime.peft.PeftModel(loaded.model()).totalParameterCount();
            bench.run(keys, !rowKeys.isEmpty());
        }
        printHeader(out, modelType, parameters);
        printTable(out, bench);
        out.flush();
        return 0;
    }

    private void createProfileDirectory() {
        try {
            Files.createDirectories(profileDirectory);
        }
        catch (IOException e) {
            throw new ParameterException(spec.commandLine(), format("--profile: cannot create the folder %s (%s); give a writable folder", profileDirectory, e.getMessage()), e);
        }
    }

    private void printHeader(PrintWriter out, String modelType, long parameters) {
        out.println(format(Locale.ROOT, "graft bench: model %s (%s, %,d parameters), batch %d x length %d = %d tokens, %d warm-up + %d measured iterations per row",
                model, modelType, parameters, batch, length, batch * length, warmup, iterations));
        out.println(format("machine: %s; %d processors; %s %s; DJL %s, PyTorch %s; OMP_NUM_THREADS=%s",
                CpuPeak.read().map(CpuPeak::cpuModel).orElse("unknown CPU"), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"), Engine.getDjlVersion(), Engine.getInstance().getVersion(),
                Optional.ofNullable(System.getenv("OMP_NUM_THREADS")).orElse("unset")));
    }

    /** The table, one row per measurement; ratios are to the floor (training) and the base forward (inference). */
    static void printTable(PrintWriter out, Bench bench) {
        List<BenchRow> rows = bench.rows();
        Optional<BenchRow> floor = rows.stream().filter(row -> row.name().startsWith("floor")).findFirst();
        Optional<BenchRow> base = rows.stream().filter(row -> row.name().startsWith("base forward")).findFirst();
        Optional<CpuPeak> peak = CpuPeak.read();
        out.println();
        out.println("| section | row | median ms | min ms | max ms | tokens/s | ratio | trainable params | optimizer state | peak RSS | GFLOP/s |");
        out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        List<BenchRow> ordered = new ArrayList<>(rows.stream().filter(row -> row.section().equals("training")).toList());
        ordered.addAll(rows.stream().filter(row -> !row.section().equals("training")).toList());
        for (BenchRow row : ordered) {
            Optional<BenchRow> reference = row.section().equals("training") ? floor : base;
            String ratio = reference.map(other -> format(Locale.ROOT, "%.2fx %s", row.median() / other.median(), row.section().equals("training") ? "floor" : "base"))
                    .orElse("-");
            String gigaflops = row.gigaflops().isPresent()
                    ? format(Locale.ROOT, "%s%s", gigaflops(row.gigaflops().getAsDouble()),
                            peak.map(machine -> format(Locale.ROOT, " (%.0f%% of peak)", 100 * row.gigaflops().getAsDouble() / machine.gigaflops())).orElse(""))
                    : "-";
            out.println(format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.1f | %.0f | %s | %,d | %s | %s | %s |", row.section(), row.name(), row.median(), row.min(), row.max(),
                    row.tokensPerSecond(), ratio, row.trainableParameters(), size(row.optimizerStateBytes()),
                    row.peakResident().isPresent() ? mebibytes(row.peakResident().getAsLong()) : "-", gigaflops));
        }
        out.println();
        peak.ifPresent(machine -> out.println(machine.explanation()));
        out.println(bench.peakPerRow() ? "peak RSS: VmHWM of /proc/self/status, reset before each row through /proc/self/clear_refs"
                : "peak RSS: VmHWM of /proc/self/status, the process's peak so far");
        bench.memoryRun().ifPresent(run -> out.println(format(Locale.ROOT,
                "memory: %s, %,d training steps: VmRSS %s after the warm-up (step %,d), %s at the end (medians of %,d steps; highest %s): growth %+.2f%%",
                run.name(), run.steps(), mebibytes(run.afterWarmUp()), run.warmUpSteps(), mebibytes(run.atEnd()), run.window(), mebibytes(run.highest()),
                100 * run.growth())));
        bench.notes().forEach(note -> out.println("note: " + note));
    }

    /** One decimal from 1 GFLOP/s up, three significant digits below (a tiny test model's forward is a small fraction of one). */
    private static String gigaflops(double value) {
        return value >= 1 ? format(Locale.ROOT, "%.1f", value) : format(Locale.ROOT, "%.3g", value);
    }

    private static String size(long bytes) {
        return bytes < 1024 * 1024 ? format(Locale.ROOT, "%.1f KiB", bytes / 1024.0) : mebibytes(bytes);
    }

    private static String mebibytes(long bytes) {
        return format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
