package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Derives an {@link OptionSchema} from the {@link Option} components of a record, and builds the record. */
final class RecordOptions {
    private RecordOptions() {}

    static List<OptionSpec> specs(Class<? extends Record> optionsType) {
        requireNonNull(optionsType, "optionsType is null");
        List<OptionSpec> specs = new ArrayList<>();
        for (RecordComponent component : optionsType.getRecordComponents()) {
            Option option = component.getAnnotation(Option.class);
            if (option == null) {
                throw new IllegalArgumentException(format("%s.%s has no @Option", optionsType.getSimpleName(), component.getName()));
            }
            OptionType type = type(optionsType, component, option);
            List<Object> choices = new ArrayList<>();
            for (String allowed : option.allowed()) {
                choices.add(literal(component.getType(), allowed));
            }
            Object defaultValue = Option.NO_DEFAULT.equals(option.defaultValue()) ? null : defaultValue(type, component, option.defaultValue());
            if (component.getType().isPrimitive() && defaultValue == null && !option.required()) {
                throw new IllegalArgumentException(format("%s.%s is primitive, so option '%s' needs a default or required = true",
                        optionsType.getSimpleName(), component.getName(), option.name()));
            }
            OptionBounds bounds = new OptionBounds(option.minimum(), option.minimumExclusive(), option.maximum(), option.maximumExclusive());
            specs.add(new OptionSpec(option.name(), type, defaultValue, option.required(), choices, option.description(), bounds));
        }
        return List.copyOf(specs);
    }

    static <R extends Record> R bind(Class<R> optionsType, MethodOptions options) {
        requireNonNull(optionsType, "optionsType is null");
        requireNonNull(options, "options is null");
        RecordComponent[] components = optionsType.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        Object[] values = new Object[components.length];
        for (int index = 0; index < components.length; index++) {
            RecordComponent component = components[index];
            types[index] = component.getType();
            String name = requireNonNull(component.getAnnotation(Option.class), component.getName() + " has no @Option").name();
            Object value = options.has(name) ? options.get(name) : null;
            if (value instanceof Double && (component.getType() == float.class || component.getType() == Float.class)) {
                value = ((Double) value).floatValue();
            }
            values[index] = value;
        }
        try {
            Constructor<R> constructor = optionsType.getDeclaredConstructor(types);
            constructor.setAccessible(true);
            return constructor.newInstance(values);
        }
        catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException) {
                throw (RuntimeException) e.getCause();
            }
            throw new IllegalStateException(format("cannot build %s: %s", optionsType.getSimpleName(), e.getCause()), e.getCause());
        }
        catch (ReflectiveOperationException e) {
            throw new IllegalStateException(format("cannot build %s from options %s: %s", optionsType.getSimpleName(), options, e), e);
        }
    }

    private static OptionType type(Class<?> record, RecordComponent component, Option option) {
        Class<?> raw = component.getType();
        boolean hasChoices = option.allowed().length > 0;
        if (raw == Object.class || raw == String.class && hasChoices) {
            return hasChoices ? OptionType.CHOICE : OptionType.STRING_OR_STRING_LIST;
        }
        if (hasChoices) {
            throw new IllegalArgumentException(format("%s.%s: allowed values need a String or Object component", record.getSimpleName(), component.getName()));
        }
        if (raw == boolean.class || raw == Boolean.class) {
            return OptionType.BOOLEAN;
        }
        if (raw == int.class || raw == Integer.class) {
            return OptionType.INTEGER;
        }
        if (raw == double.class || raw == Double.class || raw == float.class || raw == Float.class) {
            return OptionType.NUMBER;
        }
        if (raw == String.class) {
            return OptionType.STRING;
        }
        Type generic = component.getGenericType();
        if (generic instanceof ParameterizedType) {
            Type[] arguments = ((ParameterizedType) generic).getActualTypeArguments();
            if (raw == List.class && arguments[0] == String.class) {
                return OptionType.STRING_LIST;
            }
            if (raw == List.class && arguments[0] == Integer.class) {
                return OptionType.INTEGER_LIST;
            }
            if (raw == Map.class && arguments[0] == String.class && arguments[1] == Integer.class) {
                return OptionType.INTEGER_MAP;
            }
            if (raw == Map.class && arguments[0] == String.class && arguments[1] == Double.class) {
                return OptionType.NUMBER_MAP;
            }
        }
        throw new IllegalArgumentException(format("%s.%s has type %s, which no option type matches", record.getSimpleName(), component.getName(), generic));
    }

    private static Object defaultValue(OptionType type, RecordComponent component, String literal) {
        switch (type) {
            case BOOLEAN:
                return Boolean.parseBoolean(literal);
            case INTEGER:
                return Integer.parseInt(literal);
            case NUMBER:
                return Double.parseDouble(literal);
            case STRING:
            case STRING_OR_STRING_LIST:
                return literal;
            case CHOICE:
                return literal(component.getType(), literal);
            case STRING_LIST:
            case INTEGER_LIST:
                if (literal.equals("[]")) {
                    return List.of();
                }
                break;
            case INTEGER_MAP:
            case NUMBER_MAP:
                if (literal.equals("{}")) {
                    return Map.of();
                }
                break;
        }
        throw new IllegalArgumentException(format("option of %s: default '%s' cannot be read as %s", component.getName(), literal, type));
    }

    /** A literal of a choice: {@code true}/{@code false} are booleans in an {@code Object} component, anything else a string. */
    private static Object literal(Class<?> componentType, String literal) {
        if (componentType == Object.class && (literal.equals("true") || literal.equals("false"))) {
            return Boolean.parseBoolean(literal);
        }
        return literal;
    }
}
