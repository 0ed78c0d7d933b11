package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/** Helpers for the default checkpoint behaviour of {@link MethodModule} and {@link MethodInstance}. */
public final class CheckpointSupport {
    private CheckpointSupport() {}

    /** Every parameter of {@code block} keyed by DJL's parameter path ({@code name} or {@code child_name}). */
    public static Map<String, Parameter> parametersByName(Block block) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Pair<String, Parameter> pair : block.getParameters()) {
            byName.put(pair.getKey(), pair.getValue());
        }
        return Collections.unmodifiableMap(byName);
    }

    /** The current arrays of {@code parameters}, same keys. The arrays stay owned by the parameters. */
    public static Map<String, NDArray> parameterValues(Map<String, Parameter> parameters) {
        Map<String, NDArray> values = new LinkedHashMap<>();
        parameters.forEach((key, parameter) -> values.put(key, parameter.getArray()));
        return Collections.unmodifiableMap(values);
    }

    /**
     * Copies {@code state} into {@code parameters} in place, key by key, converting the data type.
     *
     * @param where what is being loaded, for messages (a site name, "shared state")
     * @throws IllegalArgumentException on a missing key, an unexpected key or a shape mismatch; nothing is copied then
     */
    public static void loadParameterValues(String where, Map<String, Parameter> parameters, Map<String, NDArray> state) {
        requireNonNull(where, "where is null");
        TreeSet<String> unexpected = new TreeSet<>(state.keySet());
        unexpected.removeAll(parameters.keySet());
        if (!unexpected.isEmpty()) {
            throw new IllegalArgumentException(format("%s: unexpected checkpoint keys %s; expected only %s", where, unexpected, new TreeSet<>(parameters.keySet())));
        }
        for (Map.Entry<String, Parameter> entry : parameters.entrySet()) {
            NDArray source = state.get(entry.getKey());
            if (source == null) {
                throw new IllegalArgumentException(format("%s: checkpoint key '%s' is missing (expected shape %s)", where, entry.getKey(), entry.getValue().getShape()));
            }
            if (!source.getShape().equals(entry.getValue().getArray().getShape())) {
                throw new IllegalArgumentException(format("%s: checkpoint key '%s' has shape %s, expected %s",
                        where, entry.getKey(), source.getShape(), entry.getValue().getArray().getShape()));
            }
        }
        for (Map.Entry<String, Parameter> entry : parameters.entrySet()) {
            ArrayValues.copy(entry.getValue().getArray(), state.get(entry.getKey()));
        }
    }
}
