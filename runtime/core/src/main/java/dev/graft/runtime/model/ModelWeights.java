package dev.graft.runtime.model;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/** What every model family does with its Hugging Face state dict: its layout, seeded random values, and checks. */
final class ModelWeights {
    private ModelWeights() {}

    /** Adds the weight {@code (out, in)} and, if {@code bias}, the bias {@code (out)} of linear layer {@code name}. */
    static void linear(Map<String, Shape> shapes, String name, int out, int in, boolean bias) {
        shapes.put(name + ".weight", new Shape(out, in));
        if (bias) {
            shapes.put(name + ".bias", new Shape(out));
        }
    }

    /**
     * Seeded random float32 values for {@code shapes}: 1 + N(0, 0.1) for the keys {@code normWeight} accepts (so
     * tests notice a norm applied wrongly), N(0, 0.02) for every other key. The same seed gives the same values
     * on every machine.
     */
    static Map<String, NDArray> random(Map<String, Shape> shapes, Predicate<String> normWeight, NDManager manager, long seed) {
        Random random = new Random(seed);
        Map<String, NDArray> weights = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> entry : shapes.entrySet()) {
            boolean norm = normWeight.test(entry.getKey());
            float[] values = new float[Math.toIntExact(entry.getValue().size())];
            for (int index = 0; index < values.length; index++) {
                values[index] = norm ? (float) (1.0 + 0.1 * random.nextGaussian()) : (float) (0.02 * random.nextGaussian());
            }
            weights.put(entry.getKey(), manager.create(values, entry.getValue()));
        }
        return weights;
    }

    /**
     * Checks {@code weights} against {@code expected} (every key present with its shape; no key left over except
     * those {@code ignored} accepts), then attaches the expected ones to {@code manager}, frozen.
     *
     * @param family the model family for messages, e.g. {@code Llama}
     * @return the expected weights, in {@code expected}'s order
     * @throws IllegalArgumentException naming the key on a missing key, an unexpected key or a wrong shape
     */
    static Map<String, NDArray> takeOwnership(String family, Map<String, Shape> expected, Map<String, NDArray> weights, Predicate<String> ignored, NDManager manager) {
        Set<String> unexpected = new TreeSet<>(weights.keySet());
        unexpected.removeAll(expected.keySet());
        unexpected.removeIf(ignored);
        if (!unexpected.isEmpty()) {
            throw new IllegalArgumentException(format("%s checkpoint has unexpected weights %s: is config.json's model_type or layer count right?", family, unexpected));
        }
        for (Map.Entry<String, Shape> entry : expected.entrySet()) {
            NDArray array = weights.get(entry.getKey());
            if (array == null) {
                throw new IllegalArgumentException(format("%s checkpoint is missing weight '%s' (expected shape %s)", family, entry.getKey(), entry.getValue()));
            }
            if (!array.getShape().equals(entry.getValue())) {
                throw new IllegalArgumentException(format("%s weight '%s' has shape %s, but config.json implies %s", family, entry.getKey(), array.getShape(), entry.getValue()));
            }
        }
        Map<String, NDArray> owned = new LinkedHashMap<>();
        for (String key : expected.keySet()) {
            NDArray array = weights.get(key);
            array.attach(manager);
            array.setRequiresGradient(false);
            owned.put(key, array);
        }
        return Collections.unmodifiableMap(owned);
    }
}
