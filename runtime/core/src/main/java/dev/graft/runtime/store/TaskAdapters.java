package dev.graft.runtime.store;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.runtime.error.SafeNames;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;
import dev.graft.spi.PeftMethod;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Saves and loads the adapters of a {@link TaskModel} with what its task adds. Each adapter goes to its own folder
 * {@code <folder>/<adapter name>/} (PEFT's layout for named adapters), which {@link SafeNames} keeps inside
 * {@code <folder>}: no name or symbolic link leads elsewhere. For sequence classification each folder
 * carries the head as PEFT saves {@code modules_to_save} ({@code task_type: SEQ_CLS}, module keys under
 * {@code base_model.model.bert.}, the head under {@code base_model.model.classifier.}), so PEFT loads it on
 * {@code BertForSequenceClassification}, and Graft's fields {@code graft_labels} (the label names in class order),
 * {@code graft_pooling} and {@code graft_classifier_dropout}. The adapters were trained with one head, so every
 * folder holds the same head.
 */
public final class TaskAdapters {
    /** The config field holding the label names. */
    public static final String LABELS_FIELD = "graft_labels";
    /** The config field holding the pooling. */
    public static final String POOLING_FIELD = "graft_pooling";
    /** The config field holding the classifier dropout. */
    public static final String DROPOUT_FIELD = "graft_classifier_dropout";

    private TaskAdapters() {}

    /** What {@code task} saves beside its adapters. */
    public static AdapterTask adapterTask(TaskModel task) {
        String modelType = task.model().base().modelType();
        if (task.head().isEmpty()) {
            return AdapterTask.bare(modelType);
        }
        ClassificationHead head = task.head().get();
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put(LABELS_FIELD, head.labels());
        fields.put(POOLING_FIELD, head.pooling().configName());
        fields.put(DROPOUT_FIELD, Double.valueOf(Float.toString(head.dropout())));
        return new AdapterTask(AdapterTask.SEQUENCE_CLASSIFICATION, AdapterTask.modulePrefix(AdapterTask.SEQUENCE_CLASSIFICATION, modelType),
                AdapterTask.CLASSIFIER_MODULES, head.state(), fields);
    }

    /** Writes every adapter of {@code task} to {@code folder/<name>/} (see the class comment). */
    public static void save(TaskModel task, Path folder, String baseModelNameOrPath) {
        AdapterTask adapterTask = adapterTask(task);
        for (String name : task.model().adapters().keySet()) {
            AdapterStore.save(task.model(), name, SafeNames.child(folder, name, "adapter name"), baseModelNameOrPath, adapterTask);
        }
    }

    /** Whether an adapter of {@code task} derives its start from the base weight (PiSSA, OLoRA). */
    public static boolean derivesFromBase(TaskModel task) {
        return task.model().adapters().values().stream().anyMatch(AdapterState::derivesFromBase);
    }

    /**
     * Like {@link #save}, with every adapter whose start derives from the base weight converted to a plain one
     * ({@link AdapterStore#saveConverted}), the others saved as they are: a set that loads on the original base.
     */
    public static void saveConverted(TaskModel task, Path folder, String baseModelNameOrPath) {
        AdapterTask adapterTask = adapterTask(task);
        for (Map.Entry<String, dev.graft.runtime.peft.Adapter> entry : task.model().adapters().entrySet()) {
            if (AdapterState.derivesFromBase(entry.getValue())) {
                AdapterStore.saveConverted(task.model(), entry.getKey(), folder.resolve(entry.getKey()), baseModelNameOrPath, adapterTask);
            }
            else {
                AdapterStore.save(task.model(), entry.getKey(), folder.resolve(entry.getKey()), baseModelNameOrPath, adapterTask);
            }
        }
    }

    /**
     * Loads the adapters in {@code folders} (an adapter folder, or a folder of them) onto {@code model}, and the
     * classification head they carry, if any, into {@code manager}: the task is sequence classification when an
     * adapter has a head (its labels from {@code graft_labels}, else Hugging Face's {@code LABEL_0, LABEL_1, ...}),
     * else the model's own (causal LM for a decoder).
     *
     * @throws StoreException when the folders hold no adapter
     */
    public static TaskModel load(PeftModel model, List<Path> folders, Function<String, PeftMethod> methodsByPeftType, NDManager manager) {
        requireNonNull(model, "model is null");
        ClassificationHead head = null;
        for (Path folder : folders) {
            List<Path> adapterFolders = adapterFolders(folder);
            for (Path adapterFolder : adapterFolders) {
                String name = adapterFolders.size() == 1 && adapterFolder.equals(folder) ? name(folder) : adapterFolder.getFileName().toString();
                AdapterStore.load(model, adapterFolder, name, methodsByPeftType);
                if (head == null) {
                    head = head(model, adapterFolder, name, manager).orElse(null);
                }
            }
        }
        if (head != null) {
            return TaskModel.classification(model, head);
        }
        return "llama".equals(model.base().modelType()) ? TaskModel.causalLm(model) : null;
    }

    /** The adapter folders in {@code folder}: itself when it holds an adapter_config.json, else its sub-folders that do. */
    public static List<Path> adapterFolders(Path folder) {
        if (Files.isRegularFile(folder.resolve(AdapterStore.CONFIG_FILE))) {
            return List.of(folder);
        }
        List<Path> children = new ArrayList<>();
        try (java.util.stream.Stream<Path> listing = Files.list(folder)) {
            listing.sorted().filter(child -> Files.isRegularFile(child.resolve(AdapterStore.CONFIG_FILE)))
                    .forEach(child -> children.add(SafeNames.child(folder, child.getFileName().toString(), "adapter folder")));
        }
        catch (java.io.IOException e) {
            throw new StoreException(format("cannot read adapter folder %s: %s", folder, e.getMessage()), e);
        }
        if (children.isEmpty()) {
            throw new StoreException(format("%s holds no %s, neither at its root nor in a sub-folder", folder, AdapterStore.CONFIG_FILE));
        }
        return List.copyOf(children);
    }

    /** The names {@link #load} gives the adapters in {@code folder} (an adapter folder, or a folder of them), without loading them. */
    public static List<String> adapterNames(Path folder) {
        List<Path> adapterFolders = adapterFolders(folder);
        return adapterFolders.stream().map(adapterFolder -> adapterFolders.size() == 1 && adapterFolder.equals(folder) ? name(folder) : adapterFolder.getFileName().toString())
                .toList();
    }

    private static String name(Path folder) {
        Path fileName = folder.toAbsolutePath().normalize().getFileName();
        return fileName == null ? "default" : fileName.toString().replaceAll("[^A-Za-z0-9_-]", "-");
    }

    /**
     * The classification head that the adapter in {@code adapterFolder} (loaded as {@code adapterName}) carries in
     * {@code modules_to_save}, made in {@code manager} for {@code model}'s width; empty when it carries none.
     *
     * @throws StoreException when it saves modules other than Graft's head
     */
    public static Optional<ClassificationHead> head(PeftModel model, Path adapterFolder, String adapterName, NDManager manager) {
        Map<String, NDArray> modules = AdapterStore.modulesToSave(adapterFolder, manager);
        if (modules.isEmpty()) {
            return Optional.empty();
        }
        Map<String, Object> config = AdapterStore.config(adapterFolder);
        NDArray weight = modules.get(ClassificationHead.MODULE_NAME + ".weight");
        if (weight == null) {
            throw new StoreException(format("adapter '%s' saves modules %s, but Graft's head is '%s'", adapterName, modules.keySet(), ClassificationHead.MODULE_NAME));
        }
        int classes = Math.toIntExact(weight.getShape().get(0));
        List<String> labels = new ArrayList<>();
        Object saved = config.get(LABELS_FIELD);
        if (saved instanceof List<?> && ((List<?>) saved).size() == classes) {
            ((List<?>) saved).forEach(label -> labels.add(String.valueOf(label)));
        }
        else {
            for (int index = 0; index < classes; index++) {
                labels.add("LABEL_" + index);
            }
        }
        boolean hasPooler = model.base() instanceof BertModel && ((BertModel) model.base()).config().addPoolingLayer();
        Object pooling = config.get(POOLING_FIELD);
        Object dropout = config.get(DROPOUT_FIELD);
        ClassificationHead head = new ClassificationHead(model.base().context().hiddenSize(), labels,
                Pooling.resolve(pooling == null ? "auto" : pooling.toString(), hasPooler), dropout instanceof Number ? ((Number) dropout).floatValue() : 0.1f)
                .initializeIn(manager);
        head.load(modules);
        return Optional.of(head);
    }

    /** The task type recorded in an adapter folder's config, if Graft has it. */
    public static Optional<TaskType> taskType(Path adapterFolder) {
        return TaskType.ofPeftTaskType(AdapterStore.config(adapterFolder).get("task_type"));
    }
}
