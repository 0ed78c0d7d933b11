package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.data.CausalLmEncoder;
import dev.graft.runtime.data.ClassificationEncoder;
import dev.graft.runtime.data.ExampleEncoder;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.store.FusionStore;
import dev.graft.runtime.store.StoreException;
import dev.graft.runtime.store.TaskAdapters;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A trained adapter ready to evaluate or predict with: a run's output folder (its {@code adapter/}, its base-weight
 * changes and its recipe's data settings) or an adapter folder (Graft's or Python PEFT's), on its base model, with the
 * classification head it carries. Closing it frees the model and the tokenizer.
 *
 * <p>Safe to share for inference: once opened (and merged, if wanted), any number of threads may run forward passes
 * on its {@link #task()}, each in its own sub-manager of {@link #manager()}; the passes run one at a time, each on
 * all cores (see {@link PeftModel}), so {@code graft predict} runs its batches from one thread.
 */
public final class TrainedModel implements AutoCloseable {
    private final NDManager manager;
    private final LoadedModel loaded;
    private final TaskModel task;
    private final Optional<Recipe> recipe;

    private TrainedModel(NDManager manager, LoadedModel loaded, TaskModel task, Optional<Recipe> recipe) {
        this.manager = requireNonNull(manager, "manager is null");
        this.loaded = requireNonNull(loaded, "loaded is null");
        this.task = requireNonNull(task, "task is null");
        this.recipe = requireNonNull(recipe, "recipe is null");
    }

    /**
     * Opens {@code path}: a run folder (with {@code recipe.yaml} and {@code adapter/}), the {@code adapter/} folder of
     * a run, or any adapter folder or folder of adapters. The model is {@code model} when given, else the run's, else
     * the first adapter's {@code base_model_name_or_path}.
     *
     * @throws IllegalArgumentException when the path holds no adapter or no model can be found
     */
    public static TrainedModel open(Path path, String model, MethodRegistry registry) {
        return open(path, model, registry, null);
    }

    /**
     * Opens {@code path} as {@link #open(Path, String, MethodRegistry)} does, with the composition block {@code block}
     * ({@link BlockArgument}: {@code average:a,b[:0.7,0.3]}, {@code stack:a,b}, {@code fuse:NAME}) over its adapters
     * active; without one, the run's recipe's {@code composition}, if any. A fuse block's fusion is loaded from the
     * adapters' {@code fusion/NAME/}. The block is read and checked before any tensor is made.
     *
     * @throws IllegalArgumentException in one line for a block that is not one, or names what the folder lacks
     */
    public static TrainedModel open(Path path, String model, MethodRegistry registry, String block) {
        requireNonNull(path, "path is null");
        requireNonNull(registry, "registry is null");
        Source source = Source.locate(path);
        Path run = source.run().orElse(null);
        Optional<Recipe> recipe = source.recipe();
        Path adapters = source.adapters();
        CompositionBlock composition = block != null ? BlockArgument.parse(block, adapters, TaskAdapters.adapterNames(adapters))
                : recipe.map(RunSetup::compositionBlock).orElse(null);
        String modelName = model != null ? model : source.model();
        NDManager manager = NDManager.newBaseManager();
        LoadedModel loaded = null;
        try {
            loaded = Models.load(modelName, manager, WeightPrecision.FLOAT32);
            PeftModel peft = new PeftModel(loaded.model());
            TaskModel task = TaskAdapters.load(peft, List.of(adapters), peftType -> registry.methodForPeftType(peftType).map(LoadedMethod::method).orElse(null), manager);
            if (task == null) {
                throw new IllegalArgumentException(format("%s holds adapters of a bare %s encoder without a classification head: there is nothing to predict; "
                        + "use graft forward for its hidden states", adapters, loaded.model().modelType()));
            }
            if (run != null && Files.isRegularFile(run.resolve(RunFolder.BASE_WEIGHTS))) {
                TrainingCheckpoint.loadBaseWeights(run.resolve(RunFolder.BASE_WEIGHTS), peft);
            }
            if (composition instanceof Fuse) {
                FusionStore.load(peft, FusionStore.fusionFolder(adapters, ((Fuse) composition).name()));
            }
            if (composition != null) {
                peft.setActiveBlock(composition);
            }
            return new TrainedModel(manager, loaded, task, recipe);
        }
        catch (RuntimeException e) {
            if (loaded != null) {
                loaded.close();
            }
            manager.close();
            throw e;
        }
    }

    /**
     * Where a trained adapter lies: the run folder and its recipe (when it comes from a run) and the folder of its
     * adapters.
     */
    record Source(Optional<Path> run, Optional<Recipe> recipe, Path adapters) {
        Source {
            requireNonNull(run, "run is null");
            requireNonNull(recipe, "recipe is null");
            requireNonNull(adapters, "adapters is null");
        }

        /** A run folder, its {@code adapter/} folder, or an adapter folder or folder of adapters. */
        static Source locate(Path path) {
            if (!Files.isDirectory(path)) {
                throw new IllegalArgumentException(format("adapter folder %s does not exist", path.toAbsolutePath().normalize()));
            }
            Path run = Files.isRegularFile(path.resolve(RunFolder.RECIPE)) ? path
                    : path.getParent() != null && Files.isRegularFile(path.getParent().resolve(RunFolder.RECIPE)) && path.getFileName().toString().equals(RunFolder.ADAPTER)
                            ? path.getParent() : null;
            Optional<Recipe> recipe = run == null ? Optional.empty() : Optional.of(Recipe.read(run.resolve(RunFolder.RECIPE)));
            return new Source(Optional.ofNullable(run), recipe, run == null ? path : run.resolve(RunFolder.ADAPTER));
        }

        /** The adapter folders it holds. */
        List<Path> adapterFolders() {
            return TaskAdapters.adapterFolders(adapters);
        }

        /** The base model: the run's, else the first adapter's {@code base_model_name_or_path}. */
        String model() {
            return recipe.map(Recipe::model).orElseGet(() -> baseModel(adapterFolders().get(0)));
        }

        /** Base weights the run changed during training, if any. */
        Optional<Path> baseWeights() {
            return run.map(folder -> folder.resolve(RunFolder.BASE_WEIGHTS)).filter(Files::isRegularFile);
        }
    }

    private static String baseModel(Path adapterFolder) {
        Object base = AdapterStore.config(adapterFolder).get("base_model_name_or_path");
        if (!(base instanceof String) || ((String) base).isBlank()) {
            throw new StoreException(format("%s names no base_model_name_or_path: give the model with --model", adapterFolder.resolve(AdapterStore.CONFIG_FILE)));
        }
        return (String) base;
    }

    public TaskModel task() {
        return task;
    }

    public LoadedModel loaded() {
        return loaded;
    }

    public NDManager manager() {
        return manager;
    }

    /** The data settings of the run the adapter came from, or the defaults. */
    public DataSection data() {
        return recipe.map(Recipe::data).orElseGet(DataSection::defaults);
    }

    /** A tokenizer with the model's {@code tokenizer.json}, truncating to {@code maxLength}. Close it. */
    public TrainingTokenizer tokenizer(int maxLength) {
        return tokenizer(loaded, maxLength);
    }

    /** A tokenizer with {@code loaded}'s {@code tokenizer.json}, truncating to {@code maxLength}. Close it. */
    static TrainingTokenizer tokenizer(LoadedModel loaded, int maxLength) {
        byte[] json = loaded.tokenizerJson().orElseThrow(() -> new IllegalArgumentException("the model has no tokenizer.json, so it cannot read text"));
        return TrainingTokenizer.create(json, maxLength);
    }

    /** The encoder of this task for data with the fields of {@code data}. */
    public ExampleEncoder encoder(TrainingTokenizer tokenizer, DataSection data) {
        if (task.type() == TaskType.SEQUENCE_CLASSIFICATION) {
            return new ClassificationEncoder(tokenizer, data.textField(), data.labelField(), task.head().orElseThrow().labels());
        }
        return new CausalLmEncoder(tokenizer, data.textField(), data.promptField(), data.completionField(), loaded.endOfSequenceTokenId());
    }

    @Override
    public void close() {
        loaded.close();
        manager.close();
    }
}
