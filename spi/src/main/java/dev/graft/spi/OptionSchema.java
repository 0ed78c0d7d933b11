package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The options a method accepts. {@link #validate} turns raw values (as parsed from JSON or YAML) into
 * typed {@link MethodOptions}, filling in defaults and rejecting unknown keys, wrong types and missing
 * required keys with an {@link InvalidOptionsException} that names the method, the key and the allowed values.
 * A string choice ending in {@value #NUMBER_PLACEHOLDER} is a template: it allows its prefix followed by a whole
 * number ({@code pissa_niter_{n}} allows {@code pissa_niter_4}).
 */
public final class OptionSchema {
    /** The end of a choice template that stands for a whole number. */
    public static final String NUMBER_PLACEHOLDER = "{n}";

    private final Map<String, OptionSpec> options;

    private OptionSchema(List<OptionSpec> options) {
        Map<String, OptionSpec> byName = new LinkedHashMap<>();
        for (OptionSpec option : options) {
            if (byName.put(option.name(), option) != null) {
                throw new IllegalArgumentException(format("option '%s' is declared twice", option.name()));
            }
        }
        this.options = Collections.unmodifiableMap(byName);
    }

    /** A schema of the given options, in the order given. */
    public static OptionSchema of(OptionSpec... options) {
        return new OptionSchema(List.of(options));
    }

    /** A schema of the given options, in the order given. */
    public static OptionSchema of(List<OptionSpec> options) {
        return new OptionSchema(List.copyOf(options));
    }

    /**
     * The schema declared by the {@link Option} annotations on the components of {@code optionsType}, in component
     * order; {@link MethodOptions#bind} builds that record from options validated by it.
     *
     * @throws IllegalArgumentException if a component has no {@link Option}, an unsupported type, an unreadable default
     *         or bounds on a type that has no numbers
     */
    public static OptionSchema of(Class<? extends Record> optionsType) {
        return new OptionSchema(RecordOptions.specs(optionsType));
    }

    /** The options, in declaration order. */
    public List<OptionSpec> options() {
        return List.copyOf(options.values());
    }

    /** The option names, in declaration order. */
    public List<String> names() {
        return List.copyOf(options.keySet());
    }

    /**
     * Validates raw option values for method {@code methodId}.
     *
     * @param methodId the method's id, named in every error
     * @param raw the values as parsed from JSON/YAML: Boolean, Number, String, List, Map
     * @return the typed options with defaults filled in
     * @throws InvalidOptionsException on an unknown key, a wrong type, a value not among the choices, or a missing required key
     */
    public MethodOptions validate(String methodId, Map<String, ?> raw) {
        requireNonNull(methodId, "methodId is null");
        requireNonNull(raw, "raw is null");
        for (String key : raw.keySet()) {
            if (!options.containsKey(key)) {
                String nearest = nearest(key);
                throw new InvalidOptionsException(format(
                        "Method '%s' has no option '%s'.%s Allowed options: %s. Fix the key or remove it.",
                        methodId, key, nearest == null ? "" : format(" Did you mean '%s'?", nearest), String.join(", ", options.keySet())));
            }
        }
        Map<String, Object> values = new LinkedHashMap<>();
        List<String> explicit = new ArrayList<>();
        for (OptionSpec option : options.values()) {
            if (raw.containsKey(option.name()) && raw.get(option.name()) != null) {
                values.put(option.name(), checkBounds(methodId, option, convert(methodId, option, raw.get(option.name()))));
                explicit.add(option.name());
            }
            else if (option.required()) {
                throw new InvalidOptionsException(format(
                        "Method '%s' needs option '%s' (%s): %s. Add it to the method's options.",
                        methodId, option.name(), describeType(option), option.description()));
            }
            else if (option.defaultValue() != null) {
                values.put(option.name(), option.defaultValue());
            }
        }
        return new MethodOptions(methodId, values, explicit);
    }

    private static Object convert(String methodId, OptionSpec option, Object value) {
        switch (option.type()) {
            case BOOLEAN:
                if (value instanceof Boolean) {
                    return value;
                }
                break;
            case INTEGER:
                Integer integer = asInteger(value);
                if (integer != null) {
                    return integer;
                }
                break;
            case NUMBER:
                if (value instanceof Number) {
                    return ((Number) value).doubleValue();
                }
                break;
            case STRING:
                if (value instanceof String) {
                    return value;
                }
                break;
            case STRING_LIST:
                if (value instanceof List<?> && ((List<?>) value).stream().allMatch(String.class::isInstance)) {
                    return ((List<?>) value).stream().map(String.class::cast).collect(Collectors.toUnmodifiableList());
                }
                break;
            case STRING_OR_STRING_LIST:
                if (value instanceof String) {
                    return value;
                }
                if (value instanceof List<?> && ((List<?>) value).stream().allMatch(String.class::isInstance)) {
                    return ((List<?>) value).stream().map(String.class::cast).collect(Collectors.toUnmodifiableList());
                }
                break;
            case INTEGER_LIST:
                if (value instanceof List<?> && ((List<?>) value).stream().allMatch(element -> asInteger(element) != null)) {
                    return ((List<?>) value).stream().map(OptionSchema::asInteger).collect(Collectors.toUnmodifiableList());
                }
                break;
            case NUMBER_MAP:
                if (value instanceof Map<?, ?> && ((Map<?, ?>) value).entrySet().stream()
                        .allMatch(entry -> entry.getKey() instanceof String && entry.getValue() instanceof Number)) {
                    Map<String, Double> map = new LinkedHashMap<>();
                    ((Map<?, ?>) value).forEach((key, number) -> map.put((String) key, ((Number) number).doubleValue()));
                    return Collections.unmodifiableMap(map);
                }
                break;
            case INTEGER_MAP:
                if (value instanceof Map<?, ?> && ((Map<?, ?>) value).entrySet().stream()
                        .allMatch(entry -> entry.getKey() instanceof String && asInteger(entry.getValue()) != null)) {
                    Map<String, Integer> map = new LinkedHashMap<>();
                    ((Map<?, ?>) value).forEach((key, number) -> map.put((String) key, asInteger(number)));
                    return Collections.unmodifiableMap(map);
                }
                break;
            case CHOICE:
                for (Object choice : option.choices()) {
                    if (choice.equals(value)) {
                        return choice;
                    }
                    if (choice instanceof String && value instanceof String && matchesNumberTemplate((String) choice, (String) value)) {
                        return value;
                    }
                }
                throw new InvalidOptionsException(format(
                        "Method '%s': option '%s' is %s, which is not allowed. Allowed values: %s.",
                        methodId, option.name(), render(value), option.choices().stream().map(OptionSchema::render).collect(Collectors.joining(", "))));
        }
        throw new InvalidOptionsException(format(
                "Method '%s': option '%s' must be %s, but is %s. Fix the value.",
                methodId, option.name(), describeType(option), render(value)));
    }

    /**
     * Whether {@code value} matches a choice written as a template ending in {@value #NUMBER_PLACEHOLDER}: the
     * template's prefix followed by a whole number of at most nine digits (PEFT's {@code pissa_niter_[number of iters]}
     * is declared as {@code pissa_niter_{n}}).
     */
    private static boolean matchesNumberTemplate(String choice, String value) {
        if (!choice.endsWith(NUMBER_PLACEHOLDER)) {
            return false;
        }
        String prefix = choice.substring(0, choice.length() - NUMBER_PLACEHOLDER.length());
        String digits = value.startsWith(prefix) ? value.substring(prefix.length()) : "";
        return !digits.isEmpty() && digits.length() <= 9 && digits.chars().allMatch(character -> character >= '0' && character <= '9');
    }

    private static Object checkBounds(String methodId, OptionSpec option, Object value) {
        OptionBounds bounds = option.bounds();
        if (!bounds.isBounded()) {
            return value;
        }
        String allowed = describeAllowed(option);
        if (value instanceof Double && !bounds.contains((Double) value) || value instanceof Integer && !bounds.contains((Integer) value)) {
            throw InvalidOptionsException.invalidValue(methodId, option.name(), value, allowed);
        }
        if (value instanceof List<?>) {
            for (Object element : (List<?>) value) {
                if (element instanceof Number && !bounds.contains(((Number) element).doubleValue())) {
                    throw new InvalidOptionsException(format(
                            "Method '%s': option '%s' is %s, but must be %s; %s is not. Fix the value.", methodId, option.name(), value, allowed, element));
                }
            }
        }
        if (value instanceof Map<?, ?>) {
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (!bounds.contains(((Number) entry.getValue()).doubleValue())) {
                    throw new InvalidOptionsException(format(
                            "Method '%s': option '%s' maps '%s' to %s, but must be %s. Fix the value.",
                            methodId, option.name(), entry.getKey(), entry.getValue(), allowed));
                }
            }
        }
        return value;
    }

    /** The option name nearest to {@code key} (edit distance, ignoring case), or null when none is near. */
    private String nearest(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String name : options.keySet()) {
            int distance = editDistance(key.toLowerCase(java.util.Locale.ROOT), name.toLowerCase(java.util.Locale.ROOT));
            if (distance < bestDistance) {
                best = name;
                bestDistance = distance;
            }
        }
        return best != null && bestDistance <= Math.max(2, Math.min(key.length(), best.length()) / 3) ? best : null;
    }

    private static int editDistance(String first, String second) {
        int[] previous = new int[second.length() + 1];
        int[] current = new int[second.length() + 1];
        for (int j = 0; j <= second.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= first.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= second.length(); j++) {
                int substitution = previous[j - 1] + (first.charAt(i - 1) == second.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[second.length()];
    }

    private static Integer asInteger(Object value) {
        if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).intValue();
        }
        if (value instanceof Long && (Long) value == ((Long) value).intValue()) {
            return ((Long) value).intValue();
        }
        if (value instanceof Double && (Double) value == Math.rint((Double) value) && Math.abs((Double) value) < Integer.MAX_VALUE) {
            return ((Double) value).intValue();
        }
        return null;
    }

    /** What {@code option} accepts, for people: its type and, for numbers, its range ("a whole number > 0"). */
    static String describeAllowed(OptionSpec option) {
        String range = option.bounds().describe();
        String type = describeType(option);
        if (option.type() == OptionType.INTEGER_MAP || option.type() == OptionType.NUMBER_MAP || option.type() == OptionType.INTEGER_LIST) {
            return range.isEmpty() ? type : format("%s, each %s", type, range);
        }
        if (range.isEmpty()) {
            return option.type() == OptionType.NUMBER ? "a finite number" : type;
        }
        return option.type() == OptionType.NUMBER ? format("a number %s", range) : format("%s %s", type, range);
    }

    static String describeType(OptionSpec option) {
        switch (option.type()) {
            case BOOLEAN:
                return "true or false";
            case INTEGER:
                return "a whole number";
            case NUMBER:
                return "a number";
            case STRING:
                return "a string";
            case STRING_LIST:
                return "a list of strings";
            case STRING_OR_STRING_LIST:
                return "a string or a list of strings";
            case INTEGER_LIST:
                return "a list of whole numbers";
            case NUMBER_MAP:
                return "a map from names to numbers";
            case INTEGER_MAP:
                return "a map from names to whole numbers";
            case CHOICE:
                return "one of " + option.choices().stream().map(OptionSchema::render).collect(Collectors.joining(", "));
        }
        throw new AssertionError(option.type());
    }

    private static String render(Object value) {
        return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    }
}
