package dev.graft.tck;

import static java.lang.String.format;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.store.AdapterState;
import dev.graft.spi.Site;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * An adapter's checkpoint on the Java heap: every tensor by its full PEFT key, in checkpoint order. Reference formulas
 * read module tensors by site and key relative to the site ({@code lora_A.weight}) and shared tensors by full key
 * ({@code base_model.vera_A}).
 */
public final class CheckpointTensors {
    private final Map<String, SavedTensor> tensors;

    public CheckpointTensors(Map<String, SavedTensor> tensors) {
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** Every tensor by full key. */
    public Map<String, SavedTensor> asMap() {
        return tensors;
    }

    /** Every key with its shape. */
    public Map<String, Shape> shapes() {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        tensors.forEach((key, tensor) -> shapes.put(key, tensor.shape()));
        return Collections.unmodifiableMap(shapes);
    }

    /** The tensor saved at {@code site} under {@code relativeKey}, e.g. {@code lora_A.weight}. */
    public SavedTensor site(Site site, String relativeKey) {
        return key(AdapterState.moduleKey(site, relativeKey));
    }

    /** The tensor saved under the full key {@code key}. */
    public SavedTensor key(String key) {
        SavedTensor tensor = tensors.get(key);
        if (tensor == null) {
            throw new IllegalArgumentException(format("the checkpoint has no key '%s'; its keys: %s", key, new TreeSet<>(tensors.keySet())));
        }
        return tensor;
    }

    /** The full checkpoint key of {@code relativeKey} at {@code site}: {@code base_model.model.<site>.<relativeKey>}. */
    public static String siteKey(Site site, String relativeKey) {
        return AdapterState.moduleKey(site, relativeKey);
    }
}
