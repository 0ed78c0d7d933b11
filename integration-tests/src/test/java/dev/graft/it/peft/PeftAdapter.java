package dev.graft.it.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.store.AdapterStore;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An adapter folder as Python PEFT 0.14's {@code save_pretrained} leaves it: {@code adapter_config.json} (see
 * {@link PeftConfigs}) and {@code adapter_model.safetensors} holding float32 tensors under PEFT's keys (see
 * {@link PeftKeys}) with the metadata {@code {"format": "pt"}}, in the safetensors library's canonical order.
 *
 * @param config every field of the config, as PEFT writes it
 * @param tensors the tensors by checkpoint key
 */
record PeftAdapter(Map<String, Object> config, Map<String, PlainTensor> tensors) {
    PeftAdapter {
        requireNonNull(config, "config is null");
        requireNonNull(tensors, "tensors is null");
        config = Collections.unmodifiableMap(new LinkedHashMap<>(config));
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /** The config's {@code peft_type}. */
    String peftType() {
        return (String) config.get("peft_type");
    }

    /** The tensor under {@code key}. */
    PlainTensor tensor(String key) {
        PlainTensor tensor = tensors.get(key);
        if (tensor == null) {
            throw new IllegalArgumentException(format("the adapter has no tensor '%s'; it has %s", key, tensors.keySet()));
        }
        return tensor;
    }

    /** This adapter with {@code key} holding {@code tensor} (added or replaced). */
    PeftAdapter withTensor(String key, PlainTensor tensor) {
        Map<String, PlainTensor> changed = new LinkedHashMap<>(tensors);
        changed.put(key, tensor);
        return new PeftAdapter(config, changed);
    }

    /** This adapter without the tensor under {@code key}. */
    PeftAdapter withoutTensor(String key) {
        tensor(key);
        Map<String, PlainTensor> changed = new LinkedHashMap<>(tensors);
        changed.remove(key);
        return new PeftAdapter(config, changed);
    }

    /** Writes the two files into {@code directory}, created if needed. */
    void writeTo(Path directory) throws IOException {
        Files.createDirectories(directory);
        Files.write(directory.resolve(AdapterStore.CONFIG_FILE), PythonJson.dumps(config).getBytes(StandardCharsets.UTF_8));
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((key, tensor) -> writer.add(key, Dtype.F32, tensor.shape(), tensor.littleEndianBytes()));
        writer.write(directory.resolve(AdapterStore.WEIGHTS_FILE));
    }
}
