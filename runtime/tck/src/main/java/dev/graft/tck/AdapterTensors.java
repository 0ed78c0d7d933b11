package dev.graft.tck;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.store.AdapterState;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Reads and sets an adapter's tensors by checkpoint key, the way a saved adapter names them
 * ({@code base_model.model.<site>.lora_A.weight}, {@code base_model.vera_A}, a gated adapter's
 * {@code graft_gate.weight}), without touching the plugin's classes.
 */
public final class AdapterTensors {
    private AdapterTensors() {}

    /** A copy of every tensor the adapter saves, by checkpoint key, as float32 on the Java heap. */
    public static CheckpointTensors read(Adapter adapter) {
        Map<String, SavedTensor> tensors = new LinkedHashMap<>();
        try (NDManager scratch = NDManager.newBaseManager()) {
            AdapterState.collect(adapter, scratch).forEach((key, array) ->
                    tensors.put(key, new SavedTensor(array.getShape(), array.toType(DataType.FLOAT32, true).toFloatArray())));
        }
        return new CheckpointTensors(tensors);
    }

    /**
     * Sets the adapter's tensors to {@code values} (row-major, by checkpoint key), exactly as loading a checkpoint
     * with these values would. Every key the adapter saves must be given.
     *
     * @throws IllegalArgumentException naming the key on a missing, unknown or wrongly sized key
     */
    public static void set(Adapter adapter, Map<String, float[]> values) {
        Map<String, Shape> shapes = read(adapter).shapes();
        try (NDManager scratch = NDManager.newBaseManager()) {
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (Map.Entry<String, float[]> entry : values.entrySet()) {
                Shape shape = shapes.get(entry.getKey());
                if (shape == null) {
                    throw new IllegalArgumentException(format("adapter '%s' has no tensor '%s'; its keys: %s", adapter.name(), entry.getKey(), shapes.keySet()));
                }
                if (shape.size() != entry.getValue().length) {
                    throw new IllegalArgumentException(format("tensor '%s' has shape %s (%d values), got %d values",
                            entry.getKey(), shape, shape.size(), entry.getValue().length));
                }
                state.put(entry.getKey(), scratch.create(entry.getValue(), shape));
            }
            AdapterState.apply(adapter, state);
        }
    }

    /**
     * Sets every tensor of the adapter to seeded random values {@code ±(0.1 + 0.4·u)}, {@code u} uniform in [0, 1):
     * non-trivial (never a default init of zeros or ones) and bounded away from zero (so a scaling can be divided
     * out). Returns what it set.
     */
    public static CheckpointTensors randomize(Adapter adapter, long seed) {
        Random random = new Random(seed);
        Map<String, float[]> values = new LinkedHashMap<>();
        read(adapter).shapes().forEach((key, shape) -> {
            float[] array = new float[(int) shape.size()];
            for (int index = 0; index < array.length; index++) {
                float magnitude = 0.1f + 0.4f * random.nextFloat();
                array[index] = random.nextBoolean() ? magnitude : -magnitude;
            }
            values.put(key, array);
        });
        set(adapter, values);
        return read(adapter);
    }
}
