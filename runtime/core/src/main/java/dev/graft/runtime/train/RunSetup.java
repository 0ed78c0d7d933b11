package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.Parallel;
import dev.graft.runtime.data.CausalLmEncoder;
import dev.graft.runtime.data.ClassificationEncoder;
import dev.graft.runtime.data.DataFiles;
import dev.graft.runtime.data.DataFormat;
import dev.graft.runtime.data.DataSplit;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.ExampleEncoder;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.recipe.RecipeAdapter;
import dev.graft.runtime.recipe.RecipeException;
import dev.graft.runtime.recipe.TaskSection;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Everything a training run is made of, built from a recipe: the model with its adapters and task head, the tokenizer,
 * the training and validation examples and the encoder that turns them into model inputs. The recipe it keeps is
 * resolved: task type and labels filled in. Closing it frees the model and the tokenizers.
 */
public final class RunSetup implements AutoCloseable {
    private final Recipe recipe;
    private final NDManager manager;
    private final LoadedModel loaded;
    private final TaskModel task;
    private final TrainingTokenizer tokenizer;
    private final ExampleEncoder encoder;
    private final List<Example> train;
    private final List<Example> validation;

    private RunSetup(Recipe recipe, NDManager manager, LoadedModel loaded, TaskModel task, TrainingTokenizer tokenizer, ExampleEncoder encoder,
            List<Example> train, List<Example> validation) {
        this.recipe = requireNonNull(recipe, "recipe is null");
        this.manager = requireNonNull(manager, "manager is null");
        this.loaded = requireNonNull(loaded, "loaded is null");
        this.task = requireNonNull(task, "task is null");
        this.tokenizer = requireNonNull(tokenizer, "tokenizer is null");
        this.encoder = requireNonNull(encoder, "encoder is null");
        this.train = List.copyOf(train);
        this.validation = List.copyOf(validation);
    }

    /**
     * Builds a run from {@code recipe} (read with its paths resolved): reads and splits the data, loads the model,
     * attaches the adapters and creates the head, all seeded with {@code training.seed}.
     *
     * @throws RecipeException when the recipe lacks training data or names what cannot be combined
     */
    public static RunSetup create(Recipe given, MethodRegistry registry) {
        requireNonNull(given, "given is null");
        requireNonNull(registry, "registry is null");
        Recipe recipe = withLoadedMethods(given, registry);
        DataSection data = recipe.data();
        if (data.train() == null) {
            throw new RecipeException("the recipe has no data.train: name the training file (JSONL or CSV) under data: train:, or pass --train FILE");
        }
        DataFormat format = DataFormat.valueOf(data.format().toUpperCase(Locale.ROOT));
        long seed = recipe.training().seed();
        List<Example> all = DataFiles.read(Path.of(data.train()), format);
        List<Example> train;
        List<Example> validation;
        if (data.validation() != null) {
            train = all;
            validation = DataFiles.read(Path.of(data.validation()), format);
        }
        else if (data.validationSplit() > 0) {
            DataSplit.Split split = DataSplit.split(all, data.validationSplit(), seed);
            train = split.train();
            validation = split.validation();
        }
        else {
            train = all;
            validation = List.of();
        }
        return build(recipe, registry, train, validation);
    }

    /**
     * Builds a run from {@code recipe} with the given training and validation examples instead of its data files (a
     * worker's share of a distributed dataset): loads the model, attaches the adapters and creates the head, all
     * seeded with {@code training.seed}. A classification recipe should name its labels ({@code task.labels}) when
     * {@code train} is only part of the data.
     */
    public static RunSetup create(Recipe given, MethodRegistry registry, List<Example> train, List<Example> validation) {
        requireNonNull(given, "given is null");
        requireNonNull(registry, "registry is null");
        requireNonNull(train, "train is null");
        requireNonNull(validation, "validation is null");
        return build(withLoadedMethods(given, registry), registry, train, validation);
    }

    /** {@link #create(Recipe, MethodRegistry, List, List)} for a recipe whose loaded adapters' methods are already read. */
    private static RunSetup build(Recipe recipe, MethodRegistry registry, List<Example> train, List<Example> validation) {
        DataSection data = recipe.data();
        long seed = recipe.training().seed();
        CompositionBlock block = compositionBlock(recipe);
        NDManager manager = NDManager.newBaseManager();
        LoadedModel loaded = null;
        TrainingTokenizer tokenizer = null;
        try {
            loaded = Models.load(recipe.model(), manager, WeightPrecision.FLOAT32);
            String modelType = loaded.model().modelType();
            TaskType type;
            try {
                type = TaskType.resolve(recipe.task().type(), modelType);
            }
            catch (IllegalArgumentException e) {
                throw new RecipeException(e.getMessage(), e);
            }
            byte[] tokenizerJson = loaded.tokenizerJson().orElseThrow(() -> new RecipeException(format(
                    "model %s has no tokenizer.json, and training reads text: add the model's tokenizer.json to its folder", recipe.model())));
            tokenizer = TrainingTokenizer.create(tokenizerJson, data.maxLength());
            Engine.getInstance().setRandomSeed((int) seed);
            PeftModel peft = new PeftModel(loaded.model());
            attachAdapters(peft, recipe, block, registry);
            TaskSection taskSection = recipe.task();
            TaskModel task;
            ExampleEncoder encoder;
            Recipe resolved;
            if (type == TaskType.SEQUENCE_CLASSIFICATION) {
                List<String> labels = taskSection.labels() != null ? taskSection.labels() : ClassificationEncoder.labelsOf(train, data.labelField());
                boolean hasPooler = loaded.model() instanceof BertModel && ((BertModel) loaded.model()).config().addPoolingLayer();
                Pooling pooling;
                try {
                    pooling = Pooling.resolve(taskSection.pooling(), hasPooler);
                }
                catch (IllegalArgumentException e) {
                    throw new RecipeException(e.getMessage(), e);
                }
                ClassificationHead head = new ClassificationHead(loaded.model().context().hiddenSize(), labels, pooling, (float) taskSection.classifierDropout())
                        .initializeIn(manager);
                task = TaskModel.classification(peft, head);
                encoder = new ClassificationEncoder(tokenizer, data.textField(), data.labelField(), labels);
                resolved = recipe.withTask(taskSection.withType(type.recipeName()).withLabels(labels));
            }
            else {
                if (recipe.adapters().isEmpty()) {
                    throw new RecipeException("a causal-lm recipe needs at least one adapter: its model has no head of its own to train");
                }
                task = TaskModel.causalLm(peft);
                encoder = new CausalLmEncoder(tokenizer, data.textField(), data.promptField(), data.completionField(), loaded.endOfSequenceTokenId());
                resolved = recipe.withTask(taskSection.withType(type.recipeName()));
            }
            for (Example example : validation) {
                encoder.encode(0, example);
            }
            return new RunSetup(resolved, manager, loaded, task, tokenizer, encoder, train, validation);
        }
        catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            if (loaded != null) {
                loaded.close();
            }
            manager.close();
            throw e;
        }
    }

    /** The recipe with everything resolved that the model and the data decide (task type, labels). */
    public Recipe recipe() {
        return recipe;
    }

    /** The manager that holds the model, the adapters, the head and the optimizer state. */
    public NDManager manager() {
        return manager;
    }

    public LoadedModel loaded() {
        return loaded;
    }

    public TaskModel task() {
        return task;
    }

    public TrainingTokenizer tokenizer() {
        return tokenizer;
    }

    public ExampleEncoder encoder() {
        return encoder;
    }

    public List<Example> train() {
        return train;
    }

    public List<Example> validation() {
        return validation;
    }

    @Override
    public void close() {
        tokenizer.close();
        loaded.close();
        manager.close();
    }

    /**
     * The recipe with every adapter's method known and checked before any tensor is made: a loaded adapter's
     * ({@code path}) method is read from its folder's {@code adapter_config.json} (and must equal the recipe's when
     * it names one); a fresh adapter's method must be loaded and trainable.
     *
     * @throws RecipeException in one line for an unknown method, a missing adapter folder, or what a loaded adapter
     *         cannot take
     */
    public static Recipe withLoadedMethods(Recipe recipe, MethodRegistry registry) {
        requireNonNull(recipe, "recipe is null");
        requireNonNull(registry, "registry is null");
        List<RecipeAdapter> adapters = new ArrayList<>();
        for (RecipeAdapter adapter : recipe.adapters()) {
            if (adapter.path() == null) {
                registry.requireMethod(adapter.method());
                if (!adapter.isTrainable()) {
                    throw new RecipeException(format("adapter '%s' is fresh (no path) and trainable: false, so it would stay at its initial values: "
                            + "remove trainable: false, or give path: a trained adapter folder to load", adapter.name()));
                }
                adapters.add(adapter);
                continue;
            }
            adapter.checkLoaded();
            Path folder = Path.of(adapter.path());
            if (!Files.isRegularFile(folder.resolve(AdapterStore.CONFIG_FILE))) {
                throw new RecipeException(format("adapter '%s': path %s holds no %s; give the folder of one trained adapter (a run's adapter/<name>/)",
                        adapter.name(), folder, AdapterStore.CONFIG_FILE));
            }
            Object peftType = AdapterStore.config(folder).get("peft_type");
            String method = peftType instanceof String ? registry.methodForPeftType((String) peftType).map(LoadedMethod::id).orElse(null) : null;
            if (method == null) {
                throw new RecipeException(format("adapter '%s': %s has peft_type %s, which no loaded method has; add its plugin to a plugin folder (see graft methods)",
                        adapter.name(), folder.resolve(AdapterStore.CONFIG_FILE), peftType));
            }
            if (adapter.method() != null && !adapter.method().equals(method)) {
                throw new RecipeException(format("adapter '%s' names method %s, but the adapter in %s is a %s adapter: remove method, or fix path",
                        adapter.name(), adapter.method(), folder, method));
            }
            adapters.add(adapter.withMethod(method));
        }
        return new Recipe(recipe.model(), adapters, recipe.task(), recipe.data(), recipe.training(), recipe.output(), recipe.composition());
    }

    /**
     * Attaches the recipe's adapters to {@code peft} (fresh ones created, those with a {@code path} loaded, each trainable
     * or frozen as the recipe says) and makes {@code block}, if any, the active block. {@code recipe} comes from
     * {@link #withLoadedMethods}.
     */
    public static void attachAdapters(PeftModel peft, Recipe recipe, CompositionBlock block, MethodRegistry registry) {
        for (RecipeAdapter adapter : recipe.adapters()) {
            if (adapter.path() == null) {
                peft.addAdapter(adapter.toSpec(), registry.requireMethod(adapter.method()).method());
            }
            else {
                AdapterStore.load(peft, Path.of(adapter.path()), adapter.name(), peftType -> registry.methodForPeftType(peftType).map(LoadedMethod::method).orElse(null));
                peft.setTrainable(adapter.name(), adapter.isTrainable());
            }
        }
        if (block != null) {
            applyBlock(peft, block);
        }
    }

    /**
     * The recipe's composition block, checked against its adapters before any tensor is made; null without one.
     *
     * @throws RecipeException for a block the recipe cannot train
     */
    public static CompositionBlock compositionBlock(Recipe recipe) {
        if (recipe.composition() == null) {
            return null;
        }
        List<String> names = recipe.adapters().stream().map(RecipeAdapter::name).toList();
        CompositionBlock block = recipe.composition().toBlock(names);
        if (block instanceof Fuse) {
            for (RecipeAdapter adapter : recipe.adapters()) {
                if (block.adapterNames().contains(adapter.name()) && Boolean.TRUE.equals(adapter.trainable())) {
                    throw new RecipeException(format("adapter '%s' is fused by the fuse block, which trains the fusion only and keeps its adapters frozen: "
                            + "remove trainable: true", adapter.name()));
                }
            }
        }
        if (block instanceof Parallel) {
            throw new RecipeException(format("composition: a parallel block %s is for inference only and cannot be trained: "
                    + "train each adapter on its own, and apply the block with graft predict or evaluate", block.adapterNames()));
        }
        return block;
    }

    /** Makes {@code block} the model's active block; a fuse block's fusion is added first (its adapters frozen). */
    private static void applyBlock(PeftModel peft, CompositionBlock block) {
        try {
            if (block instanceof Fuse) {
                peft.addFusion((Fuse) block);
            }
            peft.setActiveBlock(block);
        }
        catch (IllegalArgumentException | IllegalStateException e) {
            throw new RecipeException(format("composition: %s", e.getMessage()), e);
        }
    }
}
