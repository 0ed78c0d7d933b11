package dev.graft.runtime.store;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.FusionLayer;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.io.AtomicFiles;
import dev.graft.runtime.peft.Fusion;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.Site;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Saves and loads an AdapterFusion ({@link Fusion}) in its own folder, by convention {@code fusion/<name>} beside the
 * fused adapters' folders (AdapterHub saves a fusion apart from its adapters too):
 * <ul>
 *   <li>{@value #CONFIG_FILE}: {@code name}, {@code adapters} (the fused adapters, in block order),
 *       {@code hidden_size}, and {@code fusion_config}, AdapterHub's {@code DynamicAdapterFusionConfig} fields as this
 *       fusion computes them ({@code key}, {@code query}, {@code value}, {@code value_before_softmax},
 *       {@code value_initialized} true; {@code query_before_ln}, {@code residual_before}, {@code temperature} false;
 *       {@code regularization} true, offered, not added to the loss);</li>
 *   <li>{@value #WEIGHTS_FILE}: per fused sublayer site, {@code base_model.model.<site>.adapter_fusion.query.weight}
 *       {@code (h, h)}, {@code ….query.bias} {@code (h)}, {@code ….key.weight} {@code (h, h)}, {@code ….key.bias}
 *       {@code (h)} and {@code ….value.weight} {@code (h, h)}, PyTorch's {@code (out, in)} layout.</li>
 * </ul>
 * The fused adapters are not in the folder: load them first, under the names the config lists.
 */
public final class FusionStore {
    /** The config file name. */
    public static final String CONFIG_FILE = "adapter_fusion_config.json";
    /** The weights file name. */
    public static final String WEIGHTS_FILE = "adapter_fusion.safetensors";
    /** The key infix between a site's name and a fusion tensor's name. */
    public static final String KEY_INFIX = ".adapter_fusion.";
    /** The folder, under an adapters folder, that holds one sub-folder per fusion. */
    public static final String FUSION_FOLDER = PeftModel.FUSION_FOLDER;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String[] TENSORS = {"query.weight", "query.bias", "key.weight", "key.bias", "value.weight"};

    private FusionStore() {}

    /** AdapterHub's {@code DynamicAdapterFusionConfig}, the configuration every Graft fusion computes. */
    public static Map<String, Object> fusionConfig() {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("key", true);
        config.put("query", true);
        config.put("value", true);
        config.put("query_before_ln", false);
        config.put("regularization", true);
        config.put("residual_before", false);
        config.put("temperature", false);
        config.put("value_before_softmax", true);
        config.put("value_initialized", true);
        return config;
    }

    /** The checkpoint key of a fusion tensor ({@code query.weight}, ...) at {@code site}. */
    public static String key(Site site, String tensor) {
        return AdapterState.MODULE_PREFIX + site.name() + KEY_INFIX + tensor;
    }

    /**
     * Writes fusion {@code fusionName} of {@code model} to {@code directory} (created if needed): the weights first,
     * then the config, each to a temporary file moved into place.
     */
    public static void save(PeftModel model, String fusionName, Path directory) {
        Fusion fusion = model.fusion(fusionName);
        try {
            Files.createDirectories(directory);
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot create fusion directory %s: %s", directory, e.getMessage()), e);
        }
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        int hiddenSize = 0;
        for (Map.Entry<Site, FusionLayer> entry : fusion.layers().entrySet()) {
            hiddenSize = entry.getValue().hiddenSize();
            for (Map.Entry<String, Parameter> parameter : parameters(entry.getValue()).entrySet()) {
                tensors.put(key(entry.getKey(), parameter.getKey()), parameter.getValue().getArray());
            }
        }
        SafetensorsWriter.write(directory.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("name", fusion.name());
        config.put("adapters", fusion.adapterNames());
        config.put("hidden_size", hiddenSize);
        config.put("fusion_config", fusionConfig());
        try {
            AtomicFiles.write(directory.resolve(CONFIG_FILE), JSON.writeValueAsString(config) + "\n");
        }
        catch (JsonProcessingException e) {
            throw new StoreException(format("Cannot write %s: %s", directory.resolve(CONFIG_FILE), e.getOriginalMessage()), e);
        }
        catch (UncheckedIOException e) {
            throw new StoreException(e.getMessage(), e);
        }
    }

    /** Writes every fusion of {@code model} to {@code adaptersFolder/fusion/<name>/}; nothing when it has none. */
    public static void saveAll(PeftModel model, Path adaptersFolder) {
        for (String name : model.fusions().keySet()) {
            save(model, name, adaptersFolder.resolve(FUSION_FOLDER).resolve(name));
        }
    }

    /** The fusion folders (those with a {@value #CONFIG_FILE}) under {@code adaptersFolder/fusion/}, by name; empty when there are none. */
    public static List<Path> fusionFolders(Path adaptersFolder) {
        Path folder = adaptersFolder.resolve(FUSION_FOLDER);
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> children = Files.list(folder)) {
            return children.filter(child -> Files.isRegularFile(child.resolve(CONFIG_FILE))).sorted().toList();
        }
        catch (IOException e) {
            throw new StoreException(format("cannot read fusion folder %s: %s", folder, e.getMessage()), e);
        }
    }

    /**
     * The folder of fusion {@code name} under {@code adaptersFolder}.
     *
     * @throws StoreException naming the fusions there when it has none of that name
     */
    public static Path fusionFolder(Path adaptersFolder, String name) {
        Path folder = adaptersFolder.resolve(FUSION_FOLDER).resolve(name);
        if (!Files.isRegularFile(folder.resolve(CONFIG_FILE))) {
            List<String> names = fusionFolders(adaptersFolder).stream().map(path -> path.getFileName().toString()).toList();
            throw new StoreException(format("%s holds no fusion '%s' (no %s); fusions there: %s", adaptersFolder, name, folder.resolve(CONFIG_FILE),
                    names.isEmpty() ? "none" : names));
        }
        return folder;
    }

    /** The name and fused adapters a fusion folder's config lists, without loading any tensor. */
    public static Fuse block(Path directory) {
        Path configFile = directory.resolve(CONFIG_FILE);
        Map<String, Object> config = readConfig(configFile);
        Object name = config.get("name");
        Object adapters = config.get("adapters");
        if (!(name instanceof String) || !(adapters instanceof List<?>) || ((List<?>) adapters).stream().anyMatch(adapter -> !(adapter instanceof String))) {
            throw new StoreException(format("%s needs a string 'name' and a list of adapter names 'adapters'; found name %s, adapters %s", configFile, name, adapters));
        }
        Object fusionConfig = config.get("fusion_config");
        if (fusionConfig != null && !fusionConfig().equals(fusionConfig)) {
            throw new StoreException(format("%s: fusion_config %s is not supported; Graft computes AdapterHub's dynamic fusion %s", configFile, fusionConfig, fusionConfig()));
        }
        List<String> names = new ArrayList<>();
        ((List<?>) adapters).forEach(adapter -> names.add((String) adapter));
        try {
            return Fuse.of((String) name, names);
        }
        catch (IllegalArgumentException e) {
            throw new StoreException(format("%s: %s", configFile, e.getMessage()), e);
        }
    }

    /**
     * Loads the fusion in {@code directory} onto {@code model}, whose fused adapters must already be loaded under the
     * names its config lists. On any error nothing stays added.
     *
     * @throws StoreException on a missing or unreadable file
     * @throws IllegalArgumentException naming the key on missing, unexpected or misshapen tensors, or adapters the model lacks
     */
    public static Fusion load(PeftModel model, Path directory) {
        Fusion fusion = model.addFusion(block(directory));
        try (NDManager scratch = NDManager.newBaseManager();
                SafetensorsFile weights = SafetensorsFile.open(directory.resolve(WEIGHTS_FILE))) {
            Map<String, Parameter> expected = new LinkedHashMap<>();
            for (Map.Entry<Site, FusionLayer> entry : fusion.layers().entrySet()) {
                parameters(entry.getValue()).forEach((tensor, parameter) -> expected.put(key(entry.getKey(), tensor), parameter));
            }
            TreeSet<String> unexpected = new TreeSet<>(weights.names());
            unexpected.removeAll(expected.keySet());
            TreeSet<String> missing = new TreeSet<>(expected.keySet());
            missing.removeAll(weights.names());
            if (!unexpected.isEmpty() || !missing.isEmpty()) {
                throw new IllegalArgumentException(format("%s does not match fusion '%s' over %s on this model: missing keys %s, unexpected keys %s",
                        directory.resolve(WEIGHTS_FILE), fusion.name(), fusion.adapterNames(), first(missing), first(unexpected)));
            }
            Map<Parameter, NDArray> loaded = new LinkedHashMap<>();
            for (Map.Entry<String, Parameter> entry : expected.entrySet()) {
                NDArray array = weights.load(entry.getKey(), scratch);
                if (!array.getShape().equals(entry.getValue().getArray().getShape())) {
                    throw new IllegalArgumentException(format("%s: tensor %s has shape %s, this model needs %s", directory.resolve(WEIGHTS_FILE), entry.getKey(),
                            array.getShape(), entry.getValue().getArray().getShape()));
                }
                loaded.put(entry.getValue(), array);
            }
            loaded.forEach((parameter, array) -> ArrayValues.copy(parameter.getArray(), array));
        }
        catch (RuntimeException e) {
            model.deleteFusion(fusion.name());
            throw e;
        }
        return fusion;
    }

    private static List<String> first(TreeSet<String> keys) {
        return keys.stream().limit(3).toList();
    }

    private static Map<String, Parameter> parameters(FusionLayer layer) {
        Map<String, Parameter> parameters = new LinkedHashMap<>();
        List<Parameter> list = layer.fusionParameters();
        for (int index = 0; index < TENSORS.length; index++) {
            parameters.put(TENSORS[index], list.get(index));
        }
        return parameters;
    }

    private static Map<String, Object> readConfig(Path configFile) {
        if (!Files.isRegularFile(configFile)) {
            throw new StoreException(format("%s does not exist: a fusion folder holds %s and %s", configFile, CONFIG_FILE, WEIGHTS_FILE));
        }
        try {
            return JSON.readValue(configFile.toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        }
        catch (IOException e) {
            throw new StoreException(format("Cannot read %s as a JSON object: %s", configFile, e.getMessage()), e);
        }
    }
}
