package dev.graft.runtime.store;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Gate;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.BaseDerivedLinearModule;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mapping between an adapter's tensors and PEFT checkpoint keys: a module's tensor {@code lora_A.weight}
 * at site {@code model.layers.0.self_attn.q_proj} is saved as
 * {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}; shared tensors keep the full key
 * their method gives them ({@code base_model.vera_A}, {@code prompt_embeddings}). Where the model sits inside a
 * task class in Hugging Face ({@code BertForSequenceClassification} holds the encoder as {@code bert}), a module
 * prefix goes between: {@code base_model.model.bert.encoder.layer.0...}. The gates of a gated adapter are saved
 * at their site as {@code graft_gate.weight} and {@code graft_gate.bias}
 * ({@code base_model.model.<site>.graft_gate.weight}). Pure key mapping, no I/O.
 */
public final class AdapterState {
    /** How many keys an error lists before it counts the rest. */
    private static final int LISTED = 3;

    /** PEFT's prefix of module keys. */
    public static final String MODULE_PREFIX = "base_model.model.";
    /** The tensor name of a gate's weight, relative to its site. */
    public static final String GATE_WEIGHT = "graft_gate.weight";
    /** The tensor name of a gate's bias, relative to its site. */
    public static final String GATE_BIAS = "graft_gate.bias";

    private static final Logger LOG = LoggerFactory.getLogger(AdapterState.class);

    private AdapterState() {}

    /** The full checkpoint key of a module tensor. */
    public static String moduleKey(Site site, String tensor) {
        return moduleKey("", site, tensor);
    }

    /** The full checkpoint key of a module tensor when the model's modules sit under {@code modulePrefix} (e.g. {@code bert.}). */
    public static String moduleKey(String modulePrefix, Site site, String tensor) {
        return MODULE_PREFIX + modulePrefix + site.name() + "." + tensor;
    }

    /**
     * Every tensor of {@code adapter}, by checkpoint key, in model order. The arrays are the adapter's own or new
     * arrays in {@code manager}; copy them before mutating.
     */
    public static Map<String, NDArray> collect(Adapter adapter, NDManager manager) {
        return collect(adapter, manager, "");
    }

    /** Like {@link #collect(Adapter, NDManager)}, with module keys under {@code modulePrefix}. */
    public static Map<String, NDArray> collect(Adapter adapter, NDManager manager, String modulePrefix) {
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
            return collectInPlugin(adapter, manager, modulePrefix, false);
        }
    }

    /**
     * Like {@link #collect(Adapter, NDManager, String)}, with each module derived from the base weight
     * ({@link BaseDerivedLinearModule}: PiSSA, OLoRA) saved as the plain module PEFT's conversion makes
     * ({@link BaseDerivedLinearModule#saveConvertedState}).
     */
    public static Map<String, NDArray> collectConverted(Adapter adapter, NDManager manager, String modulePrefix) {
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
            return collectInPlugin(adapter, manager, modulePrefix, true);
        }
    }

    /** Whether a module of {@code adapter} derives its start from the base weight (PiSSA, OLoRA). */
    public static boolean derivesFromBase(Adapter adapter) {
        return adapter.attachments().values().stream()
                .anyMatch(attachment -> attachment.module() instanceof BaseDerivedLinearModule && ((BaseDerivedLinearModule) attachment.module()).derivesFromBase());
    }

    private static Map<String, NDArray> collectInPlugin(Adapter adapter, NDManager manager, String modulePrefix, boolean converted) {
        Map<String, NDArray> state = new LinkedHashMap<>();
        for (Map.Entry<Site, dev.graft.runtime.compose.Attachment> entry : adapter.attachments().entrySet()) {
            MethodModule module = entry.getValue().module();
            Map<String, NDArray> tensors = converted && module instanceof BaseDerivedLinearModule && ((BaseDerivedLinearModule) module).derivesFromBase()
                    ? ((BaseDerivedLinearModule) module).saveConvertedState(manager)
                    : module.saveState(manager);
            tensors.forEach((tensor, array) -> put(state, moduleKey(modulePrefix, entry.getKey(), tensor), array));
        }
        for (Map.Entry<Site, dev.graft.runtime.compose.Attachment> entry : adapter.attachments().entrySet()) {
            entry.getValue().gate().ifPresent(gate -> gateParameters(gate).forEach(
                    (tensor, parameter) -> put(state, moduleKey(modulePrefix, entry.getKey(), tensor), parameter.getArray())));
        }
        adapter.instance().saveSharedState(manager).forEach((key, array) -> put(state, key, array));
        return Collections.unmodifiableMap(state);
    }

    /**
     * The checkpoint keys and shapes of {@code adapter}'s gates, in model order: per gated site
     * {@code base_model.model.<site>.graft_gate.weight} {@code (1, in)} and {@code ….graft_gate.bias} {@code (1)};
     * empty for an adapter composed by {@code sum}.
     */
    public static Map<String, Shape> gateShapes(Adapter adapter) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (Map.Entry<Site, dev.graft.runtime.compose.Attachment> entry : adapter.attachments().entrySet()) {
            entry.getValue().gate().ifPresent(gate -> gateParameters(gate).forEach(
                    (tensor, parameter) -> shapes.put(moduleKey(entry.getKey(), tensor), parameter.getArray().getShape())));
        }
        return Collections.unmodifiableMap(shapes);
    }

    private static Map<String, Parameter> gateParameters(Gate gate) {
        Map<String, Parameter> parameters = new LinkedHashMap<>();
        parameters.put(GATE_WEIGHT, gate.getParameters().get("weight"));
        parameters.put(GATE_BIAS, gate.getParameters().get("bias"));
        return parameters;
    }

    private static void put(Map<String, NDArray> state, String key, NDArray array) {
        if (state.put(key, array) != null) {
            throw new IllegalStateException(format("two tensors of one adapter map to checkpoint key '%s'", key));
        }
    }

    /**
     * Loads {@code state} (keys as {@link #collect} makes them) into {@code adapter}'s modules and shared state. Every
     * key is checked before anything is loaded; an error names the checkpoint keys as the file spells them.
     *
     * @throws IllegalArgumentException naming the key on an unexpected or missing key, and the expected and found
     *         shapes on a shape mismatch
     */
    public static void apply(Adapter adapter, Map<String, NDArray> state) {
        apply(adapter, state, "");
    }

    /**
     * Like {@link #apply(Adapter, Map)}, with module keys under {@code modulePrefix}. A gated adapter's gates are
     * loaded from their keys; a checkpoint of a gated adapter without any gate key (saved before gates were saved)
     * loads with a warning, its gates as initialised.
     */
    public static void apply(Adapter adapter, Map<String, NDArray> state, String modulePrefix) {
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
            applyInPlugin(adapter, state, modulePrefix);
        }
    }

    private static void applyInPlugin(Adapter adapter, Map<String, NDArray> state, String modulePrefix) {
        Map<String, NDArray> remaining = new LinkedHashMap<>(state);
        Map<Site, Map<String, NDArray>> perSite = new LinkedHashMap<>();
        Map<String, NDArray> shared = new LinkedHashMap<>();
        Map<Parameter, NDArray> gates = new java.util.IdentityHashMap<>();
        Map<String, Shape> missing = new TreeMap<>();
        Map<String, String> misshapen = new TreeMap<>();
        try (NDManager scratch = NDManager.newBaseManager()) {
            split(adapter, modulePrefix, remaining, perSite, shared, missing, misshapen, scratch);
        }
        splitGates(adapter, modulePrefix, remaining, gates, missing, misshapen);
        if (!remaining.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException(mismatch(adapter, remaining.keySet(), missing));
        }
        if (!misshapen.isEmpty()) {
            throw new IllegalArgumentException(format("adapter '%s' (method %s): %s; the checkpoint and the adapter's configuration disagree",
                    adapter.name(), adapter.descriptor().id(), listed(misshapen.values(), "; ")));
        }
        for (Map.Entry<Site, Map<String, NDArray>> entry : perSite.entrySet()) {
            adapter.attachments().get(entry.getKey()).module().loadState(entry.getValue());
        }
        adapter.instance().loadSharedState(shared);
        gates.forEach((parameter, array) -> ArrayValues.copy(parameter.getArray(), array));
    }

    /**
     * Names both sides of a key mismatch: the keys in the file that no module of the adapter takes, and the keys the
     * adapter expects that the file lacks (with their shapes), the first few of each and a count.
     */
    private static String mismatch(Adapter adapter, Collection<String> unexpected, Map<String, Shape> missing) {
        List<String> parts = new ArrayList<>();
        if (!unexpected.isEmpty()) {
            parts.add(format("%d key%s in the file match%s no module of the adapter: %s", unexpected.size(), unexpected.size() == 1 ? "" : "s",
                    unexpected.size() == 1 ? "es" : "", listed(new TreeSet<>(unexpected).stream().map(key -> "'" + key + "'").toList(), ", ")));
        }
        if (!missing.isEmpty()) {
            List<String> keys = new ArrayList<>();
            missing.forEach((key, shape) -> keys.add(format("'%s' (shape %s)", key, shape)));
            parts.add(format("%d key%s the adapter expects %s not in the file: %s", keys.size(), keys.size() == 1 ? "" : "s",
                    keys.size() == 1 ? "is" : "are", listed(keys, ", ")));
        }
        return format("adapter '%s' (method %s): the checkpoint does not fit the adapter's configuration: %s. Check target_modules (and "
                + "layers_to_transform) in adapter_config.json against the keys in adapter_model.safetensors",
                adapter.name(), adapter.descriptor().id(), String.join("; ", parts));
    }

    /** The first {@value #LISTED} items joined, then "and N more" when there are more. */
    static String listed(Collection<String> items, String separator) {
        List<String> shown = items.stream().limit(LISTED).toList();
        String joined = String.join(separator, shown);
        return items.size() > LISTED ? format("%s and %d more", joined, items.size() - LISTED) : joined;
    }

    private static void splitGates(Adapter adapter, String modulePrefix, Map<String, NDArray> remaining, Map<Parameter, NDArray> gates,
            Map<String, Shape> missing, Map<String, String> misshapen) {
        boolean anyGateKey = remaining.keySet().stream().anyMatch(key -> key.endsWith("." + GATE_WEIGHT) || key.endsWith("." + GATE_BIAS));
        boolean gated = adapter.attachments().values().stream().anyMatch(attachment -> attachment.gate().isPresent());
        if (gated && !anyGateKey) {
            LOG.warn("adapter '{}' is gated but its checkpoint holds no gates (saved before Graft saved them): its gates start as initialised", adapter.name());
            return;
        }
        for (Map.Entry<Site, dev.graft.runtime.compose.Attachment> entry : adapter.attachments().entrySet()) {
            if (entry.getValue().gate().isEmpty()) {
                continue;
            }
            gateParameters(entry.getValue().gate().get()).forEach((tensor, parameter) ->
                    take(remaining, moduleKey(modulePrefix, entry.getKey(), tensor), parameter.getArray(), missing, misshapen).ifPresent(array -> gates.put(parameter, array)));
        }
    }

    private static void split(Adapter adapter, String modulePrefix, Map<String, NDArray> remaining, Map<Site, Map<String, NDArray>> perSite, Map<String, NDArray> shared,
            Map<String, Shape> missing, Map<String, String> misshapen, NDManager scratch) {
        for (Site site : adapter.sites()) {
            String prefix = MODULE_PREFIX + modulePrefix + site.name() + ".";
            Map<String, NDArray> moduleState = new LinkedHashMap<>();
            Map<String, NDArray> expected = adapter.attachments().get(site).module().saveState(scratch);
            expected.forEach((tensor, like) -> take(remaining, prefix + tensor, like, missing, misshapen).ifPresent(array -> moduleState.put(tensor, array)));
            perSite.put(site, moduleState);
        }
        adapter.instance().saveSharedState(scratch).forEach((key, like) -> take(remaining, key, like, missing, misshapen).ifPresent(array -> shared.put(key, array)));
    }

    /** Removes {@code key} from {@code remaining}; present only when it is there with the shape of {@code like}. */
    private static Optional<NDArray> take(Map<String, NDArray> remaining, String key, NDArray like, Map<String, Shape> missing, Map<String, String> misshapen) {
        NDArray array = remaining.remove(key);
        if (array == null) {
            missing.put(key, like.getShape());
            return Optional.empty();
        }
        if (!array.getShape().equals(like.getShape())) {
            misshapen.put(key, format("checkpoint key '%s' has shape %s, expected %s", key, array.getShape(), like.getShape()));
            return Optional.empty();
        }
        return Optional.of(array);
    }
}
