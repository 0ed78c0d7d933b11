package dev.graft.runtime.store;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.error.SafeNames;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.io.AtomicFiles;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Saves and loads adapters in Hugging Face PEFT's layout: {@code adapter_config.json} (every config field,
 * {@code peft_type} naming the method) and {@code adapter_model.safetensors} with PEFT's key names. An adapter
 * trained with Python PEFT loads here and one saved here loads there. Methods PEFT lacks use their own
 * {@code peft_type}; a gated adapter records {@code "graft_composition": "gated"}. Fields a method does not
 * know are warned about on load (one line) and written back on save; fields of newer PEFT releases that change the
 * adapter are refused on load, and a field PEFT 0.14's config for the method lacks is not written while it holds its
 * neutral value (see {@link PeftConfigFields}); {@code task_type} must name a head Graft has
 * ({@link AdapterTask#unsupportedTaskType}).
 */
public final class AdapterStore {
    /** The config file name. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The weights file name. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** Graft's config field recording a gated composition. */
    public static final String COMPOSITION_FIELD = "graft_composition";

    private static final Logger LOG = LoggerFactory.getLogger(AdapterStore.class);
    private static final Set<String> TARGETING_FIELDS = Set.of("target_modules", "exclude_modules", "layers_to_transform", "layers_pattern");
    private static final Set<String> COMMON_FIELDS = Set.of("peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode",
            "auto_mapping", "peft_version", "modules_to_save", "graft_labels", "graft_pooling", "graft_classifier_dropout");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private AdapterStore() {}

    /**
     * Writes {@code adapterName} of {@code model} to {@code directory} (created if needed): the weights first,
     * then the config, each to a temporary file moved into place, so an existing adapter there is replaced
     * whole or not at all.
     */
    public static void save(PeftModel model, String adapterName, Path directory, String baseModelNameOrPath) {
        save(model, adapterName, directory, baseModelNameOrPath, AdapterTask.bare(model.base().modelType()));
    }

    /**
     * Like {@link #save(PeftModel, String, Path, String)}, for an adapter trained for {@code task}: its module keys
     * under the task's prefix, its {@code modules_to_save} tensors beside them and its fields in the config.
     */
    public static void save(PeftModel model, String adapterName, Path directory, String baseModelNameOrPath, AdapterTask task) {
        Adapter adapter = model.adapter(adapterName);
        try {
            Files.createDirectories(directory);
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot create adapter directory %s: %s", directory, e.getMessage()), e);
        }
        try (NDManager scratch = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>(AdapterState.collect(adapter, scratch, task.modulePrefix()));
            adapter.moduleCopies().forEach((key, copy) -> {
                if (tensors.put(AdapterState.MODULE_PREFIX + task.modulePrefix() + key, copy.getArray()) != null) {
                    throw new IllegalStateException(format("the modules_to_save copy %s collides with an adapter tensor", key));
                }
            });
            task.moduleTensors().forEach((key, array) -> {
                if (tensors.put(AdapterState.MODULE_PREFIX + key, array) != null) {
                    throw new IllegalStateException(format("module tensor %s collides with an adapter tensor", key));
                }
            });
            SafetensorsWriter.write(directory.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        writeAtomically(directory.resolve(CONFIG_FILE), configOf(model, adapter, baseModelNameOrPath, task));
    }

    /**
     * Like {@link #save(PeftModel, String, Path, String, AdapterTask)}, with PEFT's conversion of an adapter whose
     * start is derived from the base weight (PiSSA, OLoRA: {@code save_pretrained(...,
     * path_initial_model_for_weight_conversion=...)}): the folder holds the plain adapter that gives the same model on
     * the original base ({@code init_lora_weights: true}, for LoRA rank {@code 2r} with {@code [A; A₀]} and
     * {@code [B, −B₀]}), so it loads anywhere, next to other adapters, with no decomposition on load. Without
     * conversion, the saved adapter keeps its {@code init_lora_weights} and recomputes {@code B₀·A₀} from the
     * original base when loaded, as PEFT does.
     *
     * @throws StoreException when no module of the adapter derives from the base weight, or the method cannot convert it
     */
    public static void saveConverted(PeftModel model, String adapterName, Path directory, String baseModelNameOrPath, AdapterTask task) {
        Adapter adapter = model.adapter(adapterName);
        if (!AdapterState.derivesFromBase(adapter)) {
            throw new StoreException(format("adapter '%s' (method %s) does not derive its start from the base weight (as init_lora_weights pissa, pissa_niter_K "
                    + "or olora do), so there is nothing to convert: save it without conversion", adapterName, adapter.descriptor().id()));
        }
        Map<String, Object> convertedOptions;
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
            convertedOptions = adapter.instance().optionsForConvertedState(adapter.options().asMap()).orElseThrow(() -> new StoreException(format(
                    "adapter '%s': method %s cannot convert its adapter to one that needs no initialisation from the base; save it without conversion",
                    adapterName, adapter.descriptor().id())));
        }
        try {
            Files.createDirectories(directory);
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot create adapter directory %s: %s", directory, e.getMessage()), e);
        }
        try (NDManager scratch = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>(AdapterState.collectConverted(adapter, scratch, task.modulePrefix()));
            task.moduleTensors().forEach((key, array) -> {
                if (tensors.put(AdapterState.MODULE_PREFIX + key, array) != null) {
                    throw new IllegalStateException(format("module tensor %s collides with an adapter tensor", key));
                }
            });
            SafetensorsWriter.write(directory.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        Map<String, Object> config = configOf(model, adapter, baseModelNameOrPath, task);
        config.putAll(convertedOptions);
        writeAtomically(directory.resolve(CONFIG_FILE), config);
    }

    /**
     * Every field of {@code adapter}'s {@code adapter_config.json}, keys sorted as PEFT writes them. An option the
     * adapter was given as null and that has no default stays, as null: PEFT writes every field of its config, the
     * unset ones as null ({@code "prompt_tuning_init_text": null}), so a PEFT folder saved again keeps them. A method
     * without linear sites gets targeting fields only where they are set: PEFT's prompt-learning configs have none,
     * and PEFT warns about fields its config does not have.
     */
    public static Map<String, Object> configOf(PeftModel model, Adapter adapter, String baseModelNameOrPath) {
        return configOf(model, adapter, baseModelNameOrPath, AdapterTask.bare(model.base().modelType()));
    }

    /** Like {@link #configOf(PeftModel, Adapter, String)}, with {@code task}'s {@code task_type}, {@code modules_to_save} and fields. */
    public static Map<String, Object> configOf(PeftModel model, Adapter adapter, String baseModelNameOrPath, AdapterTask task) {
        MethodDescriptor descriptor = adapter.descriptor();
        Map<String, Object> config = new TreeMap<>(adapter.spec().extraConfig());
        adapter.spec().options().forEach((name, value) -> {
            if (value == null) {
                config.put(name, null);
            }
        });
        config.putAll(adapter.options().asMap());
        Map<String, Object> targets = new LinkedHashMap<>(adapter.spec().targets().toConfig());
        if (!descriptor.siteKinds().contains(SiteKind.LINEAR)) {
            targets.values().removeIf(Objects::isNull);
        }
        else if (targets.get("target_modules") == null) {
            targets.put("target_modules", descriptor.defaultTargets().get(model.base().modelType()));
        }
        config.putAll(targets);
        config.put("peft_type", descriptor.peftType());
        config.put("task_type", task.taskType());
        config.put("base_model_name_or_path", baseModelNameOrPath);
        config.putIfAbsent("revision", null);
        config.put("inference_mode", true);
        List<String> modulesToSave = new ArrayList<>(task.modulesToSave());
        modulesToSave.addAll(adapter.spec().modulesToSave());
        if (modulesToSave.isEmpty()) {
            config.putIfAbsent("modules_to_save", null);
        }
        else {
            config.put("modules_to_save", List.copyOf(modulesToSave));
        }
        config.putAll(task.fields());
        if (adapter.composition() == Composition.GATED) {
            config.put(COMPOSITION_FIELD, "gated");
        }
        config.entrySet().removeIf(field -> !PeftConfigFields.writes(descriptor.peftType(), field.getKey(), field.getValue(), optionDefault(descriptor, field.getKey())));
        return config;
    }

    private static Optional<Object> optionDefault(MethodDescriptor descriptor, String name) {
        return descriptor.options().options().stream().filter(option -> option.name().equals(name)).findFirst().map(OptionSpec::defaultValue);
    }

    /**
     * Loads the adapter in {@code directory} onto {@code model} as {@code adapterName}, choosing the method by the
     * config's {@code peft_type}. On any error nothing stays attached.
     *
     * @param methodsByPeftType the loaded methods by {@code peft_type} (from the method registry)
     * @throws StoreException on a missing or unreadable file, an unknown {@code peft_type}, or unsupported fields
     * @throws IllegalArgumentException naming the key on missing, unexpected or misshapen tensors, or bad options
     */
    public static Adapter load(PeftModel model, Path directory, String adapterName, Function<String, PeftMethod> methodsByPeftType) {
        Path configFile = directory.resolve(CONFIG_FILE);
        Map<String, Object> config = readConfig(configFile);
        Object peftType = config.get("peft_type");
        if (!(peftType instanceof String)) {
            throw new StoreException(format("%s has no peft_type string; is this a PEFT adapter folder?", configFile));
        }
        PeftMethod method = methodsByPeftType.apply((String) peftType);
        if (method == null) {
            throw new StoreException(format("%s: no loaded method has peft_type %s; add its plugin to a plugin folder (see `graft methods`)", configFile, peftType));
        }
        Optional<String> taskProblem = AdapterTask.unsupportedTaskType(config.get("task_type"), model.base().modelType());
        if (taskProblem.isPresent()) {
            throw new StoreException(format("%s: %s", configFile, taskProblem.get()));
        }
        List<String> modulesToSave = modulesToSave(configFile, config);
        List<String> baseModules = modulesToSave.stream().filter(module -> !AdapterTask.CLASSIFIER_MODULES.contains(module)).toList();
        String modulePrefix = AdapterTask.modulePrefix(config.get("task_type"), model.base().modelType());
        MethodDescriptor descriptor = method.descriptor();
        Map<String, Object> options = new LinkedHashMap<>();
        Map<String, Object> targets = new LinkedHashMap<>();
        Map<String, Object> extra = new LinkedHashMap<>();
        Composition composition = Composition.SUM;
        List<String> optionNames = descriptor.options().names();
        for (Map.Entry<String, Object> field : config.entrySet()) {
            String key = field.getKey();
            if (TARGETING_FIELDS.contains(key)) {
                targets.put(key, field.getValue());
            }
            else if (COMPOSITION_FIELD.equals(key)) {
                composition = "gated".equals(field.getValue()) ? Composition.GATED : Composition.SUM;
            }
            else if (optionNames.contains(key)) {
                options.put(key, field.getValue());
            }
            else if (!COMMON_FIELDS.contains(key)) {
                extra.put(key, field.getValue());
            }
        }
        for (Map.Entry<String, Object> field : extra.entrySet()) {
            Optional<String> refusal = PeftConfigFields.refusal(descriptor.id(), field.getKey(), field.getValue());
            if (refusal.isPresent()) {
                throw new StoreException(format("%s: %s", configFile, refusal.get()));
            }
        }
        if (!extra.isEmpty()) {
            LOG.warn("{}: ignoring fields method '{}' does not know: {} (they are kept when the adapter is saved again, but for those PEFT 0.14 lacks at their neutral value)", configFile, descriptor.id(), extra.keySet());
        }
        Adapter adapter = model.addAdapter(new AdapterSpec(adapterName, options, TargetRules.fromConfig(targets), composition, extra, baseModules), method);
        try (NDManager scratch = NDManager.newBaseManager();
                SafetensorsFile weights = SafetensorsFile.open(directory.resolve(WEIGHTS_FILE))) {
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (String name : weights.names()) {
                if (!isModuleToSave(name, modulesToSave, modulePrefix)) {
                    state.put(name, weights.load(name, scratch));
                }
            }
            applyModuleCopies(adapter, weights, modulePrefix, configFile, scratch);
            AdapterState.apply(adapter, state, modulePrefix);
        }
        catch (RuntimeException e) {
            model.deleteAdapter(adapterName);
            throw e;
        }
        return adapter;
    }

    /**
     * Copies the saved {@code modules_to_save} tensors ({@code base_model.model.<path>.weight}, PEFT's key without
     * the adapter name) into the adapter's copies; every copy must be in the file, with its shape.
     */
    private static void applyModuleCopies(Adapter adapter, SafetensorsFile weights, String modulePrefix, Path configFile, NDManager scratch) {
        Set<String> names = Set.copyOf(weights.names());
        for (Map.Entry<String, Parameter> entry : adapter.moduleCopies().entrySet()) {
            String key = AdapterState.MODULE_PREFIX + modulePrefix + entry.getKey();
            if (!names.contains(key)) {
                throw new IllegalArgumentException(format("%s lists %s in modules_to_save, but %s has no tensor %s",
                        configFile, entry.getKey().substring(0, entry.getKey().lastIndexOf('.')), WEIGHTS_FILE, key));
            }
            NDArray loaded = weights.load(key, scratch);
            NDArray copy = entry.getValue().getArray();
            if (!loaded.getShape().equals(copy.getShape())) {
                throw new IllegalArgumentException(format("%s: tensor %s has shape %s, but this model's %s has %s", WEIGHTS_FILE, key, loaded.getShape(), entry.getKey(),
                        copy.getShape()));
            }
            ArrayValues.copy(copy, loaded.toType(copy.getDataType(), false));
        }
    }

    /**
     * The tensors of the modules an adapter saved in full ({@code modules_to_save}: the classification head), by
     * module path ({@code classifier.weight}), loaded into {@code manager}; empty when it saved none.
     *
     * @throws StoreException on an unreadable folder or {@code modules_to_save} Graft cannot use
     */
    public static Map<String, NDArray> modulesToSave(Path directory, NDManager manager) {
        Path configFile = directory.resolve(CONFIG_FILE);
        List<String> modules = modulesToSave(configFile, readConfig(configFile)).stream().filter(AdapterTask.CLASSIFIER_MODULES::contains).toList();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        if (modules.isEmpty()) {
            return tensors;
        }
        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(WEIGHTS_FILE))) {
            for (String name : weights.names()) {
                if (isModuleToSave(name, modules, "")) {
                    tensors.put(name.substring(AdapterState.MODULE_PREFIX.length()), weights.load(name, manager));
                }
            }
        }
        return tensors;
    }

    /** The fields of the {@code adapter_config.json} in {@code directory}. */
    public static Map<String, Object> config(Path directory) {
        return readConfig(directory.resolve(CONFIG_FILE));
    }

    private static List<String> modulesToSave(Path configFile, Map<String, Object> config) {
        Object modulesToSave = config.get("modules_to_save");
        if (modulesToSave == null) {
            return List.of();
        }
        if (!(modulesToSave instanceof List<?>) || !((List<?>) modulesToSave).stream().allMatch(String.class::isInstance)) {
            throw new StoreException(format("%s: modules_to_save must be a list of module names (e.g. [\"classifier\", \"encoder.layer.0.output.LayerNorm\"]), found %s",
                    configFile, modulesToSave));
        }
        List<String> modules = new ArrayList<>();
        ((List<?>) modulesToSave).forEach(module -> modules.add((String) module));
        boolean head = modules.stream().anyMatch(AdapterTask.CLASSIFIER_MODULES::contains);
        if (head && !AdapterTask.SEQUENCE_CLASSIFICATION.equals(config.get("task_type"))) {
            throw new StoreException(format("%s: modules_to_save %s names a classification head, which Graft trains and loads only with task_type SEQ_CLS (found %s); "
                    + "set task_type SEQ_CLS, or remove the head from modules_to_save", configFile, modules, config.get("task_type")));
        }
        return List.copyOf(modules);
    }

    /** Whether {@code key} belongs to a module of {@code modules}: the head at the top, the base's modules under {@code modulePrefix}. */
    private static boolean isModuleToSave(String key, List<String> modules, String modulePrefix) {
        return modules.stream().anyMatch(module -> key.startsWith(AdapterState.MODULE_PREFIX + (AdapterTask.CLASSIFIER_MODULES.contains(module) ? "" : modulePrefix) + module + "."));
    }

    /**
     * Loads PEFT's multi-adapter layout: an adapter at the root of {@code directory} is {@code default}, and each
     * sub-folder holding an {@code adapter_config.json} is an adapter named after the folder. A sub-folder that is a
     * symbolic link to somewhere outside {@code directory} is refused ({@link SafeNames}).
     */
    public static List<Adapter> loadAll(PeftModel model, Path directory, Function<String, PeftMethod> methodsByPeftType) {
        List<Adapter> loaded = new ArrayList<>();
        if (Files.isRegularFile(directory.resolve(CONFIG_FILE))) {
            loaded.add(load(model, directory, "default", methodsByPeftType));
        }
        try (Stream<Path> children = Files.list(directory)) {
            for (Path child : children.sorted().toList()) {
                if (Files.isRegularFile(child.resolve(CONFIG_FILE))) {
                    loaded.add(load(model, SafeNames.child(directory, child.getFileName().toString(), "adapter folder"), child.getFileName().toString(), methodsByPeftType));
                }
            }
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot list adapter directory %s: %s", directory, e.getMessage()), e);
        }
        if (loaded.isEmpty()) {
            throw new StoreException(format("%s holds no %s, neither at its root nor in a sub-folder", directory, CONFIG_FILE));
        }
        return loaded;
    }

    private static Map<String, Object> readConfig(Path configFile) {
        if (!Files.isRegularFile(configFile)) {
            throw new StoreException(format("%s does not exist: an adapter folder holds %s and %s", configFile, CONFIG_FILE, WEIGHTS_FILE));
        }
        Map<String, Object> config;
        try {
            config = JSON.readValue(configFile.toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        }
        catch (JsonProcessingException e) {
            throw new StoreException(e.getLocation() == null
                    ? format("%s is not valid JSON: %s", configFile, e.getOriginalMessage())
                    : format("%s is not valid JSON at line %d, column %d: %s", configFile, e.getLocation().getLineNr(), e.getLocation().getColumnNr(), e.getOriginalMessage()), e);
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot read %s: %s", configFile, e.getMessage()), e);
        }
        catch (RuntimeException e) {
            throw new StoreException(format("%s is not a JSON object: %s", configFile, e.getMessage()), e);
        }
        if (config == null) {
            throw new StoreException(format("%s is not a JSON object: it holds null; an adapter config is an object such as {\"peft_type\": \"LORA\", ...}", configFile));
        }
        return config;
    }

    private static void writeAtomically(Path file, Map<String, Object> config) {
        try {
            AtomicFiles.write(file, JSON.writeValueAsString(config) + "\n");
        }
        catch (JsonProcessingException e) {
            throw new StoreException(format("Cannot write %s: %s", file, e.getOriginalMessage()), e);
        }
        catch (UncheckedIOException e) {
            throw new StoreException(e.getMessage(), e);
        }
    }
}
