package dev.graft.runtime.cli;

import static java.lang.String.format;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.ModelLoader;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.train.RunFolder;
import dev.graft.spi.PeftMethod;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import picocli.CommandLine.Option;

/**
 * The {@code --adapter DIR} and {@code --precision} options shared by {@code forward}, {@code merge} and
 * {@code inspect}, and loading what they name: the model of the command's own {@code --model} (required by
 * {@code forward} and {@code merge}, an alternative to {@code --recipe} in {@code inspect}) through {@link ModelLoader}
 * (or the bundled all-MiniLM-L6-v2), each adapter folder through {@link AdapterStore}, its method chosen by
 * {@code peft_type} in the registry.
 */
public final class ModelOptions {
    /** The name that selects the bundled all-MiniLM-L6-v2. */
    public static final String MINILM = "minilm";
    /** The {@code --model} option's value label. */
    static final String MODEL_LABEL = "DIR|minilm";
    /** The {@code --model} option's help text. */
    static final String MODEL_DESCRIPTION = "A Hugging Face model folder (config.json, safetensors, tokenizer.json), or 'minilm' for the bundled all-MiniLM-L6-v2.";

    @Option(names = "--adapter", paramLabel = "DIR",
            description = "A PEFT adapter folder (adapter_config.json + adapter_model.safetensors), or a folder of them (PEFT's multi-adapter layout, "
                    + "with its AdapterFusions in fusion/NAME/), or a graft train run folder. Repeatable.")
    private List<Path> adapters = new ArrayList<>();

    @Option(names = "--precision", paramLabel = "P", defaultValue = "float32",
            description = "How base weights are held: float32 (default; exact), half (float16, about the checkpoint's size for BF16 models; "
                    + "fails on values beyond float16's range) or as-stored (F16 stays F16, others float32).")
    private String precision;

    /** The {@code --precision} as given. */
    public String precision() {
        return precision;
    }

    /** The adapter folders, in order. */
    public List<Path> adapterDirectories() {
        return List.copyOf(adapters);
    }

    /** The model folder {@code model} names, or empty for {@code minilm}. */
    static java.util.Optional<Path> modelDirectory(String model) {
        return MINILM.equals(model) ? java.util.Optional.empty() : java.util.Optional.of(Path.of(model));
    }

    /** Loads {@code model} (a folder, or {@code minilm}) into {@code manager} in the {@code --precision} asked for. */
    LoadedModel load(String model, NDManager manager) {
        WeightPrecision weightPrecision = weightPrecision();
        if (Models.isMiniLm(model) && weightPrecision != WeightPrecision.FLOAT32) {
            throw new IllegalArgumentException(format("the bundled minilm loads in float32 only; --precision %s applies to model folders", precision));
        }
        return Models.load(model, manager, weightPrecision);
    }

    private WeightPrecision weightPrecision() {
        switch (precision) {
            case "float32":
                return WeightPrecision.FLOAT32;
            case "half":
                return WeightPrecision.HALF;
            case "as-stored":
                return WeightPrecision.AS_STORED;
            default:
                throw new IllegalArgumentException(format("unknown --precision '%s'; use float32, half or as-stored", precision));
        }
    }

    /**
     * Loads every {@code --adapter} onto {@code peftModel}, active. An adapter folder is named after the folder;
     * a folder of adapters gives PEFT's names ({@code default} for one at its root).
     *
     * @return the names of the loaded adapters, in order
     */
    List<String> loadAdapters(PeftModel peftModel, MethodRegistry registry) {
        List<String> names = new ArrayList<>();
        Set<String> taken = new HashSet<>();
        for (Path given : adapters) {
            if (!Files.isDirectory(given)) {
                throw new IllegalArgumentException(format("adapter folder %s does not exist", given.toAbsolutePath().normalize()));
            }
            Path directory = adaptersFolder(given);
            if (Files.isRegularFile(directory.resolve(AdapterStore.CONFIG_FILE))) {
                String name = uniqueName(adapterName(directory, registry), taken);
                names.add(AdapterStore.load(peftModel, directory, name, peftType -> method(registry, peftType)).name());
            }
            else {
                for (Adapter adapter : AdapterStore.loadAll(peftModel, directory, peftType -> method(registry, peftType))) {
                    taken.add(adapter.name());
                    names.add(adapter.name());
                }
            }
        }
        return names;
    }

    /** The folder holding the adapters an {@code --adapter} value names: a run folder's {@code adapter/}, else the folder itself. */
    static Path adaptersFolder(Path directory) {
        Path runAdapters = directory.resolve(RunFolder.ADAPTER);
        return Files.isRegularFile(directory.resolve(RunFolder.RECIPE)) && Files.isDirectory(runAdapters) ? runAdapters : directory;
    }

    /**
     * The folder's name, made a valid adapter name; prefixed with {@code adapter-} where it would collide with a
     * method's checkpoint key prefix (a folder named {@code lora}).
     */
    private static String adapterName(Path directory, MethodRegistry registry) {
        Path fileName = directory.toAbsolutePath().normalize().getFileName();
        String name = fileName == null ? "default" : fileName.toString().replaceAll("[^A-Za-z0-9_-]", "-");
        String collidingName = name;
        boolean collides = registry.ids().stream().anyMatch(id -> collidingName.equals(id) || collidingName.startsWith(id + "_"))
                || List.of("base_model", "model", "weight", "bias").contains(name);
        return name.isEmpty() || collides || !Character.isLetterOrDigit(name.charAt(0)) ? "adapter-" + name : name;
    }

    private static String uniqueName(String name, Set<String> taken) {
        String candidate = name;
        for (int suffix = 2; !taken.add(candidate); suffix++) {
            candidate = name + "-" + suffix;
        }
        return candidate;
    }

    private static PeftMethod method(MethodRegistry registry, String peftType) {
        return registry.methodForPeftType(peftType).map(LoadedMethod::method).orElse(null);
    }
}
