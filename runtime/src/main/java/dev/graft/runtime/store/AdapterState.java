package dev.graft.runtime.store;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.runtime.compose.Adapter;
import dev.graft.spi.Site;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The mapping between an adapter's tensors and PEFT checkpoint keys: a module's tensor {@code lora_A.weight}
 * at site {@code model.layers.0.self_attn.q_proj} is saved as
 * {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}; shared tensors keep the full key
 * their method gives them ({@code base_model.vera_A}, {@code prompt_embeddings}). Pure key mapping, no I/O.
 */
public final class AdapterState {
    /** PEFT's prefix of module keys. */
    public static final String MODULE_PREFIX = "base_model.model.";

    private AdapterState() {}

    /** The full checkpoint key of a module tensor. */
    public static String moduleKey(Site site, String tensor) {
        return MODULE_PREFIX + site.name() + "." + tensor;
    }

    /**
     * Every tensor of {@code adapter}, by checkpoint key, in model order. The arrays are the adapter's own or new
     * arrays in {@code manager}; copy them before mutating.
     */
    public static Map<String, NDArray> collect(Adapter adapter, NDManager manager) {
        Map<String, NDArray> state = new LinkedHashMap<>();
        for (Map.Entry<Site, dev.graft.runtime.site.Attachment> entry : adapter.attachments().entrySet()) {
            entry.getValue().module().saveState(manager).forEach((tensor, array) -> put(state, moduleKey(entry.getKey(), tensor), array));
        }
        adapter.instance().saveSharedState(manager).forEach((key, array) -> put(state, key, array));
        return Collections.unmodifiableMap(state);
    }

    private static void put(Map<String, NDArray> state, String key, NDArray array) {
        if (state.put(key, array) != null) {
            throw new IllegalStateException(format("two tensors of one adapter map to checkpoint key '%s'", key));
        }
    }

    /**
     * Loads {@code state} (keys as {@link #collect} makes them) into {@code adapter}'s modules and shared state.
     *
     * @throws IllegalArgumentException naming the key on an unexpected or missing key or a shape mismatch
     */
    public static void apply(Adapter adapter, Map<String, NDArray> state) {
        Map<String, NDArray> remaining = new LinkedHashMap<>(state);
        Map<Site, Map<String, NDArray>> perSite = new LinkedHashMap<>();
        Map<String, NDArray> shared = new LinkedHashMap<>();
        try (NDManager scratch = NDManager.newBaseManager()) {
            split(adapter, remaining, perSite, shared, scratch);
        }
        if (!remaining.isEmpty()) {
            throw new IllegalArgumentException(format("adapter '%s' (method %s) has no tensor for checkpoint keys %s",
                    adapter.name(), adapter.descriptor().id(), new TreeSet<>(remaining.keySet())));
        }
        for (Map.Entry<Site, Map<String, NDArray>> entry : perSite.entrySet()) {
            adapter.attachments().get(entry.getKey()).module().loadState(entry.getValue());
        }
        adapter.instance().loadSharedState(shared);
    }

    private static void split(Adapter adapter, Map<String, NDArray> remaining, Map<Site, Map<String, NDArray>> perSite, Map<String, NDArray> shared, NDManager scratch) {
        for (Site site : adapter.sites()) {
            String prefix = MODULE_PREFIX + site.name() + ".";
            Map<String, NDArray> moduleState = new LinkedHashMap<>();
            Map<String, NDArray> expected = adapter.attachments().get(site).module().saveState(scratch);
            for (String tensor : expected.keySet()) {
                NDArray array = remaining.remove(prefix + tensor);
                if (array != null) {
                    moduleState.put(tensor, array);
                }
            }
            perSite.put(site, moduleState);
        }
        for (String key : adapter.instance().saveSharedState(scratch).keySet()) {
            NDArray array = remaining.remove(key);
            if (array != null) {
                shared.put(key, array);
            }
        }
    }
}
