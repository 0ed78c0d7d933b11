package dev.graft.tck;

import static java.lang.String.format;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.spi.PeftMethod;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Saves adapters to and loads them from a folder in Hugging Face PEFT's layout ({@code adapter_config.json} and
 * {@code adapter_model.safetensors}) through the runtime's store, as {@code graft train} and {@code graft predict} do.
 */
public final class AdapterFiles {
    private AdapterFiles() {}

    /** Saves adapter {@code adapterName} of {@code model} to {@code directory}; returns the saved keys and shapes, as the file holds them. */
    public static Map<String, Shape> save(PeftModel model, String adapterName, Path directory) {
        AdapterStore.save(model, adapterName, directory, "graft-tck-tiny-" + model.base().modelType());
        return savedShapes(directory);
    }

    /** The keys and shapes in the adapter file under {@code directory}, in file order. */
    public static Map<String, Shape> savedShapes(Path directory) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        try (SafetensorsFile file = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            for (String name : file.names()) {
                shapes.put(name, new Shape(file.info(name).shape()));
            }
        }
        return Collections.unmodifiableMap(shapes);
    }

    /** Loads the adapter saved under {@code directory} into {@code model} as {@code adapterName}, its method being {@code method}. */
    public static Adapter load(PeftModel model, Path directory, String adapterName, PeftMethod method) {
        String peftType = method.descriptor().peftType();
        return AdapterStore.load(model, directory, adapterName, type -> {
            if (!peftType.equals(type)) {
                throw new IllegalArgumentException(format("the adapter under %s has peft_type %s, the method under test %s", directory, type, peftType));
            }
            return method;
        });
    }
}
