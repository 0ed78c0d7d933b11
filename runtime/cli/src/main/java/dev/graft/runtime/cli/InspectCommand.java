package dev.graft.runtime.cli;

import static java.lang.String.format;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import com.google.inject.Inject;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.peft.ModelReport;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.MethodRegistry;

import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.recipe.RecipeAdapter;
import dev.graft.runtime.store.AdapterState;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.Fusion;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.train.RunSetup;
import dev.graft.runtime.store.FusionStore;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code graft inspect --model DIR|minilm [--adapter DIR]... | --recipe FILE}: prints what attaches where (adapter, method,
 * composition, site kind, site, tensor shapes) and PEFT's line
 * {@code trainable params: X || all params: Y || trainable%: Z}.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Shows which adapters attach where, and the trainable parameter count.",
        footer = {"", "Examples:",
                "  graft inspect --recipe examples/quickstart.yaml",
                "  graft inspect --model minilm --adapter runs/quickstart/adapter"})
public final class InspectCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Source source;

    @Mixin
    private ModelOptions modelOptions;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    /** Either a model (with {@code --adapter} folders) or a recipe. */
    static final class Source {
        @Option(names = "--model", paramLabel = ModelOptions.MODEL_LABEL, required = true, description = ModelOptions.MODEL_DESCRIPTION)
        private String model;

        @Option(names = "--recipe", paramLabel = "FILE", required = true,
                description = "A YAML/JSON recipe naming the model and the adapters to attach (instead of --model/--adapter).")
        private Path recipe;
    }

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        if (source.recipe != null && !modelOptions.adapterDirectories().isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give either --recipe or --model/--adapter, not both");
        }
        Recipe parsed = source.recipe == null ? null : RunSetup.withLoadedMethods(Recipe.read(source.recipe), registry);
        CompositionBlock block = parsed == null ? null : RunSetup.compositionBlock(parsed);
        String modelName = parsed == null ? source.model : parsed.model();
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = modelOptions.load(modelName, manager)) {
            PeftModel model = new PeftModel(loaded.model());
            if (parsed == null) {
                modelOptions.loadAdapters(model, registry);
            }
            else {
                RunSetup.attachAdapters(model, parsed, block, registry);
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(String.format("model: %s (%s, %d sites)", modelName, loaded.model().modelType(), loaded.model().sites().size()));
            if (parsed != null) {
                for (String line : presetLines(parsed)) {
                    out.println(line);
                }
            }
            for (String line : ModelReport.attachmentLines(model)) {
                out.println(line);
            }
            for (Adapter adapter : model.adapters().values()) {
                Map<String, Shape> gates = AdapterState.gateShapes(adapter);
                if (!gates.isEmpty()) {
                    out.println(format("gates of '%s': %d, one per site, g = mean over tokens of σ(x·W_gᵀ + b_g); saved with the adapter as", adapter.name(), gates.size() / 2));
                    gates.forEach((key, shape) -> out.println(format("  %s  %s", key, shape)));
                }
            }
            if (parsed == null) {
                for (Path directory : modelOptions.adapterDirectories()) {
                    for (Path fusionFolder : FusionStore.fusionFolders(ModelOptions.adaptersFolder(directory))) {
                        Fusion fusion = FusionStore.load(model, fusionFolder);
                        long count = fusion.parameters().stream().mapToLong(parameter -> parameter.getArray().size()).sum();
                        out.println(format("fusion '%s' over %s: %d parameters at %d sublayer sites (query, key, value per site), from %s", fusion.name(), fusion.adapterNames(),
                                count, fusion.layers().size(), fusionFolder));
                    }
                }
            }
            out.println(ModelReport.trainableParametersLine(model));
            out.flush();
        }
        return 0;
    }

    /** For every preset the recipe used, the adapters it became with their composition, targets and options. */
    static List<String> presetLines(Recipe recipe) {
        List<String> lines = new ArrayList<>();
        String current = null;
        for (RecipeAdapter adapter : recipe.adapters()) {
            if (adapter.fromPreset() == null) {
                current = null;
                continue;
            }
            if (!adapter.fromPreset().equals(current)) {
                current = adapter.fromPreset();
                lines.add(format("preset %s became:", current));
            }
            lines.add(format("  %s: method %s, composition %s%s, options %s", adapter.name(), adapter.method(),
                    adapter.composition() == null ? "sum" : adapter.composition(),
                    adapter.targetModules() == null ? ", the method's default targets" : ", target_modules " + adapter.targetModules(), adapter.options()));
        }
        return List.copyOf(lines);
    }
}
