package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A method's validated options: typed values with defaults filled in. Made by {@link OptionSchema#validate}.
 * Getters throw {@link InvalidOptionsException} naming the method when a key is absent or of another type.
 */
public final class MethodOptions {
    private final String methodId;
    private final Map<String, Object> values;
    private final Set<String> explicit;

    MethodOptions(String methodId, Map<String, Object> values, List<String> explicit) {
        this.methodId = requireNonNull(methodId, "methodId is null");
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(values, "values is null")));
        this.explicit = Set.copyOf(requireNonNull(explicit, "explicit is null"));
    }

    /** The id of the method these options belong to. */
    public String methodId() {
        return methodId;
    }

    /** Every option that has a value, given or default, in schema order. */
    public Map<String, Object> asMap() {
        return values;
    }

    /** Whether {@code name} has a value (given or default). */
    public boolean has(String name) {
        return values.containsKey(name);
    }

    /** Whether {@code name} was given explicitly rather than defaulted. */
    public boolean isExplicit(String name) {
        return explicit.contains(name);
    }

    /** The raw value of {@code name}: Boolean, Integer, Double, String, List or Map. */
    public Object get(String name) {
        Object value = values.get(name);
        if (value == null) {
            throw new InvalidOptionsException(format("Method '%s': option '%s' has no value", methodId, name));
        }
        return value;
    }

    public boolean getBoolean(String name) {
        return typed(name, Boolean.class);
    }

    public int getInt(String name) {
        return typed(name, Integer.class);
    }

    public double getDouble(String name) {
        return typed(name, Double.class);
    }

    public String getString(String name) {
        return typed(name, String.class);
    }

    @SuppressWarnings("unchecked")
    public List<String> getStringList(String name) {
        return typed(name, List.class);
    }

    @SuppressWarnings("unchecked")
    public List<Integer> getIntList(String name) {
        return typed(name, List.class);
    }

    @SuppressWarnings("unchecked")
    public Map<String, Double> getNumberMap(String name) {
        return typed(name, Map.class);
    }

    @SuppressWarnings("unchecked")
    public Map<String, Integer> getIntegerMap(String name) {
        return typed(name, Map.class);
    }

    private <T> T typed(String name, Class<T> type) {
        Object value = get(name);
        if (!type.isInstance(value)) {
            throw new InvalidOptionsException(format("Method '%s': option '%s' is %s, not %s", methodId, name, value.getClass().getSimpleName(), type.getSimpleName()));
        }
        return type.cast(value);
    }

    /**
     * The record of type {@code optionsType} whose {@link Option} components hold these values ({@code null} for an
     * absent option without a default). Its canonical constructor may check cross-field rules and throw
     * {@link InvalidOptionsException#wrongTogether}.
     *
     * @param optionsType a record whose every component has an {@link Option}; these options must come from
     *        {@code OptionSchema.of(optionsType)}
     */
    public <R extends Record> R bind(Class<R> optionsType) {
        return RecordOptions.bind(optionsType, this);
    }

    @Override
    public String toString() {
        return methodId + values;
    }
}
