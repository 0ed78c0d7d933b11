package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.inject.Inject;
import dev.graft.runtime.format.Checkpoint;
import dev.graft.runtime.format.Checkpoints;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.peft.WeightedCombination;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.store.MergedExport;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code graft merge --model DIR --adapter DIR [--adapter DIR --weight W]... --output DIR}: merges adapters into
 * the base weights and exports a Hugging Face checkpoint folder in the input's precision. Several adapters with
 * weights are first combined like PEFT's {@code add_weighted_adapter} ({@code --combination}, default {@code cat},
 * which is exact). Methods that cannot merge (prefix, prompt, bottleneck adapters, gated adapters) are refused.
 */
@Command(name = "merge", mixinStandardHelpOptions = true, description = "Merges PEFT adapters into a model and saves it as a Hugging Face checkpoint.",
        footer = {"", "Examples:",
                "  graft merge --model path/to/llama --adapter path/to/peft-adapter --output merged-llama",
                "  graft merge --model path/to/llama --adapter a --adapter b --weight 0.7 --weight 0.3 --combination svd --svd-rank 8 --output merged"})
public final class MergeCommand implements Callable<Integer> {
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json");

    @Mixin
    private PluginOptions pluginOptions;

    @Option(names = "--model", paramLabel = "DIR", required = true, description = "The Hugging Face model folder (config.json, safetensors) to merge into.")
    private String model;

    @Mixin
    private ModelOptions modelOptions;

    @Option(names = "--weight", paramLabel = "W", description = "The weight of each --adapter, in order (default 1 each).")
    private List<Double> weights = new ArrayList<>();

    @Option(names = "--combination", paramLabel = "TYPE", defaultValue = "cat",
            description = "How several adapters are combined: cat (exact), linear (equal ranks) or svd. Default: ${DEFAULT-VALUE}.")
    private String combination;

    @Option(names = "--svd-rank", paramLabel = "R", defaultValue = "0",
            description = "The rank of the combined adapter; required with --combination svd (a whole number > 0), not used otherwise.")
    private int svdRank;

    @Option(names = "--output", paramLabel = "DIR", required = true, description = "A new (or empty) folder for the merged checkpoint.")
    private Path output;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() throws IOException {
        Path modelDirectory = ModelOptions.modelDirectory(model).orElseThrow(() -> new ParameterException(spec.commandLine(),
                "merge needs a model folder with config.json to export; the bundled minilm has none"));
        if (!"float32".equals(modelOptions.precision())) {
            throw new ParameterException(spec.commandLine(), "merge computes in float32 and exports in the checkpoint's own precision; drop --precision");
        }
        if (modelOptions.adapterDirectories().isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give at least one --adapter to merge");
        }
        if (!weights.isEmpty() && weights.size() != modelOptions.adapterDirectories().size()) {
            throw new ParameterException(spec.commandLine(), format("give one --weight per --adapter: %d adapters, %d weights",
                    modelOptions.adapterDirectories().size(), weights.size()));
        }
        WeightedCombination.Type type;
        try {
            type = WeightedCombination.Type.valueOf(combination.toUpperCase(Locale.ROOT));
        }
        catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), format("unknown --combination '%s'; use cat, linear or svd", combination));
        }
        if (type == WeightedCombination.Type.SVD && svdRank <= 0) {
            throw new ParameterException(spec.commandLine(), format("--combination svd needs --svd-rank R, the rank of the combined adapter (a whole number > 0); got %d", svdRank));
        }
        OutputTarget.checkFolder(spec, output);
        Map<String, Object> config = new ObjectMapper().readValue(modelDirectory.resolve("config.json").toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        Dtype dtype = storedDtype(modelDirectory);
        List<Path> extraFiles = new ArrayList<>();
        for (String name : TOKENIZER_FILES) {
            if (Files.isRegularFile(modelDirectory.resolve(name))) {
                extraFiles.add(modelDirectory.resolve(name));
            }
        }
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = modelOptions.load(model, manager)) {
            PeftModel model = new PeftModel(loaded.model());
            List<String> adapters = modelOptions.loadAdapters(model, registry);
            List<String> toMerge = adapters;
            if (adapters.size() > 1 || !weights.isEmpty()) {
                List<Double> adapterWeights = weights.isEmpty() ? adapters.stream().map(name -> 1.0).toList() : weights;
                WeightedCombination.combine(model, adapters, adapterWeights, type, "merged", svdRank);
                model.setActiveAdapters(List.of("merged"));
                toMerge = List.of("merged");
            }
            MergedExport.export(model, toMerge, config, dtype, extraFiles, output);
            PrintWriter out = spec.commandLine().getOut();
            out.println(format("merged %s into %s (%s) -> %s", adapters, modelDirectory, dtype, output));
            out.flush();
        }
        return 0;
    }

    /** The precision the checkpoint stores its floating-point weights in (the first such tensor's). */
    private static Dtype storedDtype(Path modelDirectory) {
        try (Checkpoint checkpoint = Checkpoints.open(modelDirectory)) {
            for (String name : checkpoint.names()) {
                Dtype dtype = checkpoint.info(name).dtype();
                if (dtype == Dtype.F32 || dtype == Dtype.F16 || dtype == Dtype.BF16) {
                    return dtype;
                }
            }
        }
        catch (Exception e) {
            throw new IllegalArgumentException(format("cannot read the weights of %s: %s", modelDirectory, e.getMessage()), e);
        }
        return Dtype.F32;
    }
}
