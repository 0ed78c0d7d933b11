package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.RowRouting;
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
import dev.graft.runtime.store.TaskAdapters;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Several trained adapters on one base model, each row of a batch run with its own adapter
 * ({@link PeftModel#route}): for {@code graft predict --adapter-column}. Each source is a run folder of
 * {@code graft train}, its {@code adapter/} folder, or a PEFT adapter folder, holding one adapter; the adapter's
 * name is the name of the folder given (a run's {@code adapter/} folder takes its run's name), characters other than
 * letters, digits, {@code _} and {@code -} replaced by {@code -}. For sequence
 * classification each adapter keeps its own head and labels. Inference only. Closing it frees the model.
 */
public final class RoutedModel implements AutoCloseable {
    private final NDManager manager;
    private final LoadedModel loaded;
    private final TaskModel task;
    private final Map<String, ClassificationHead> heads;
    private final Optional<Recipe> recipe;

    private RoutedModel(NDManager manager, LoadedModel loaded, TaskModel task, Map<String, ClassificationHead> heads, Optional<Recipe> recipe) {
        this.manager = requireNonNull(manager, "manager is null");
        this.loaded = requireNonNull(loaded, "loaded is null");
        this.task = requireNonNull(task, "task is null");
        this.heads = Map.copyOf(requireNonNull(heads, "heads is null"));
        this.recipe = requireNonNull(recipe, "recipe is null");
    }

    /**
     * Opens the adapters of {@code paths} on one base model: {@code model} when given, else the one every source
     * names (its run's model, else its {@code base_model_name_or_path}).
     *
     * @throws IllegalArgumentException when the sources name different base models, share a name, hold several
     *         adapters, changed base weights, or mix classification adapters with adapters without a head
     */
    public static RoutedModel open(List<Path> paths, String model, MethodRegistry registry) {
        requireNonNull(paths, "paths is null");
        requireNonNull(registry, "registry is null");
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("give at least one adapter folder");
        }
        Map<String, Path> folders = new LinkedHashMap<>();
        Map<String, TrainedModel.Source> sources = new LinkedHashMap<>();
        String modelName = model;
        String modelSource = null;
        for (Path path : paths) {
            TrainedModel.Source source = TrainedModel.Source.locate(path);
            String name = name(path, source);
            if (folders.containsKey(name)) {
                throw new IllegalArgumentException(format("adapter folders %s and %s have the same name '%s', and lines choose adapters by name: copy or rename one",
                        sources.get(name).adapters(), path, name));
            }
            List<Path> adapterFolders = source.adapterFolders();
            if (adapterFolders.size() != 1) {
                throw new IllegalArgumentException(format("%s holds %d adapters %s that work together; routing runs each line with one adapter: give a folder with one",
                        source.adapters(), adapterFolders.size(), adapterFolders.stream().map(folder -> folder.getFileName().toString()).toList()));
            }
            if (source.baseWeights().isPresent()) {
                throw new IllegalArgumentException(format("%s changed base weights during training (%s), which would reach every line: predict with it alone",
                        path, source.baseWeights().get().getFileName()));
            }
            if (model == null) {
                String named = source.model();
                if (modelName == null) {
                    modelName = named;
                    modelSource = path.toString();
                }
                else if (!named.equals(modelName)) {
                    throw new IllegalArgumentException(format("the adapters were made for different base models: %s for %s, %s for %s; route adapters of one base model",
                            modelName, modelSource, named, path));
                }
            }
            folders.put(name, adapterFolders.get(0));
            sources.put(name, source);
        }
        NDManager manager = NDManager.newBaseManager();
        LoadedModel loaded = null;
        try {
            loaded = Models.load(modelName, manager, WeightPrecision.FLOAT32);
            PeftModel peft = new PeftModel(loaded.model());
            Map<String, ClassificationHead> heads = new LinkedHashMap<>();
            List<String> headless = new ArrayList<>();
            for (Map.Entry<String, Path> folder : folders.entrySet()) {
                AdapterStore.load(peft, folder.getValue(), folder.getKey(), peftType -> registry.methodForPeftType(peftType).map(LoadedMethod::method).orElse(null));
                Optional<ClassificationHead> head = TaskAdapters.head(peft, folder.getValue(), folder.getKey(), manager);
                if (head.isPresent()) {
                    heads.put(folder.getKey(), head.get());
                }
                else {
                    headless.add(folder.getKey());
                }
            }
            TaskModel task;
            if (!heads.isEmpty()) {
                if (!headless.isEmpty()) {
                    throw new IllegalArgumentException(format("adapters %s carry a classification head, %s do not: route adapters of one task", heads.keySet(), headless));
                }
                task = TaskModel.classification(peft, heads.values().iterator().next());
            }
            else if ("llama".equals(loaded.model().modelType())) {
                task = TaskModel.causalLm(peft);
            }
            else {
                throw new IllegalArgumentException(format("adapters %s are adapters of a bare %s encoder without a classification head: there is nothing to predict",
                        headless, loaded.model().modelType()));
            }
            return new RoutedModel(manager, loaded, task, heads, sources.values().iterator().next().recipe());
        }
        catch (RuntimeException e) {
            if (loaded != null) {
                loaded.close();
            }
            manager.close();
            throw e;
        }
    }

    /** The name a source's adapter gets: the folder given, or for a run's {@code adapter/} folder the run's (see the class comment). */
    private static String name(Path path, TrainedModel.Source source) {
        Path named = source.run().isPresent() ? source.run().get() : path;
        Path fileName = named.toAbsolutePath().normalize().getFileName();
        return fileName == null ? "default" : fileName.toString().replaceAll("[^A-Za-z0-9_-]", "-");
    }

    /** The adapter names, in the order the sources were given. */
    public Set<String> adapterNames() {
        return new LinkedHashSet<>(task.model().adapters().keySet());
    }

    /** The task: a classification (with the first adapter's head, for its inputs) or a causal LM. */
    public TaskModel task() {
        return task;
    }

    public TaskType type() {
        return task.type();
    }

    /** The head of adapter {@code name} (classification only). */
    public ClassificationHead head(String name) {
        ClassificationHead head = heads.get(name);
        if (head == null) {
            throw new IllegalArgumentException(format("no adapter '%s' with a classification head; adapters: %s", name, heads.keySet()));
        }
        return head;
    }

    public LoadedModel loaded() {
        return loaded;
    }

    public NDManager manager() {
        return manager;
    }

    /** The data settings of the first source's run, or the defaults. */
    public DataSection data() {
        return recipe.map(Recipe::data).orElseGet(DataSection::defaults);
    }

    /** A tokenizer with the model's {@code tokenizer.json}, truncating to {@code maxLength}. Close it. */
    public TrainingTokenizer tokenizer(int maxLength) {
        return TrainedModel.tokenizer(loaded, maxLength);
    }

    /**
     * The class probabilities of each row, row {@code i} run with adapter {@code rowAdapters.get(i)} and its head:
     * one array per row, over that adapter's labels.
     */
    public List<float[]> probabilities(ParameterStore parameterStore, NDList inputs, List<String> rowAdapters) {
        if (task.type() != TaskType.SEQUENCE_CLASSIFICATION) {
            throw new IllegalStateException("class probabilities need classification adapters");
        }
        for (int row = 0; row < rowAdapters.size(); row++) {
            if (rowAdapters.get(row) == null || !heads.containsKey(rowAdapters.get(row))) {
                throw new IllegalArgumentException(format("row %d names adapter %s, but a classification needs one of %s", row, rowAdapters.get(row), heads.keySet()));
            }
        }
        NDList outputs = task.model().forward(parameterStore, inputs, rowAdapters);
        Map<String, float[]> byAdapter = new LinkedHashMap<>();
        for (String name : new LinkedHashSet<>(rowAdapters)) {
            NDArray logits = heads.get(name).logits(parameterStore, outputs, inputs.get(1), false);
            byAdapter.put(name, logits.softmax(-1).toFloatArray());
        }
        List<float[]> probabilities = new ArrayList<>();
        for (int row = 0; row < rowAdapters.size(); row++) {
            int labels = heads.get(rowAdapters.get(row)).labels().size();
            float[] all = byAdapter.get(rowAdapters.get(row));
            float[] own = new float[labels];
            System.arraycopy(all, row * labels, own, 0, labels);
            probabilities.add(own);
        }
        return List.copyOf(probabilities);
    }

    /** The causal LM's logits {@code (batch, sequence, vocabulary)}, row {@code i} run with {@code rowAdapters.get(i)} (null: the base model). */
    public NDArray logits(ParameterStore parameterStore, NDList inputs, List<String> rowAdapters) {
        try (RowRouting ignored = task.model().route(rowAdapters)) {
            return task.logits(parameterStore, inputs, false);
        }
    }

    @Override
    public void close() {
        loaded.close();
        manager.close();
    }
}
