package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One option a method accepts: its name (PEFT's config field name where PEFT has the method), type, default
 * and documentation.
 *
 * @param name the option key, e.g. {@code lora_alpha}
 * @param type the value type
 * @param defaultValue the value used when the key is absent; {@code null} means "absent" (see {@code required})
 * @param required whether the key must be given (PEFT's {@code num_virtual_tokens}, say)
 * @param choices the allowed values of a {@link OptionType#CHOICE} option, empty otherwise
 * @param description one sentence for people reading {@code graft methods} output and docs
 * @param bounds the allowed range of a number (or of the numbers in a list or map); {@link OptionBounds#NONE} otherwise
 */
public record OptionSpec(String name, OptionType type, Object defaultValue, boolean required, List<Object> choices, String description, OptionBounds bounds) {
    public OptionSpec {
        requireNonNull(name, "name is null");
        requireNonNull(type, "type is null");
        requireNonNull(choices, "choices is null");
        requireNonNull(description, "description is null");
        requireNonNull(bounds, "bounds is null");
        if (bounds.isBounded() && !(type == OptionType.INTEGER || type == OptionType.NUMBER || type == OptionType.INTEGER_LIST
                || type == OptionType.INTEGER_MAP || type == OptionType.NUMBER_MAP)) {
            throw new IllegalArgumentException(format("option '%s' of type %s cannot have bounds", name, type));
        }
        choices = Collections.unmodifiableList(new ArrayList<>(choices));
        if (type == OptionType.CHOICE && choices.isEmpty()) {
            throw new IllegalArgumentException(format("choice option '%s' needs at least one allowed value", name));
        }
        if (type != OptionType.CHOICE && !choices.isEmpty()) {
            throw new IllegalArgumentException(format("option '%s' of type %s cannot list choices", name, type));
        }
        if (required && defaultValue != null) {
            throw new IllegalArgumentException(format("option '%s' is required and so cannot have a default", name));
        }
    }

    /** An option without bounds. */
    public OptionSpec(String name, OptionType type, Object defaultValue, boolean required, List<Object> choices, String description) {
        this(name, type, defaultValue, required, choices, description, OptionBounds.NONE);
    }

    /** This option with {@code bounds}. */
    public OptionSpec withBounds(OptionBounds bounds) {
        return new OptionSpec(name, type, defaultValue, required, choices, description, bounds);
    }

    /** This option with values {@code >= minimum} (finite). */
    public OptionSpec atLeast(double minimum) {
        return withBounds(new OptionBounds(minimum, false, Double.POSITIVE_INFINITY, false));
    }

    /** This option with values {@code > minimum} (finite). */
    public OptionSpec greaterThan(double minimum) {
        return withBounds(new OptionBounds(minimum, true, Double.POSITIVE_INFINITY, false));
    }

    /** This option with probabilities: values in {@code [0, 1)}. */
    public OptionSpec probability() {
        return withBounds(new OptionBounds(0, false, 1, true));
    }

    /** A boolean option. */
    public static OptionSpec bool(String name, boolean defaultValue, String description) {
        return new OptionSpec(name, OptionType.BOOLEAN, defaultValue, false, List.of(), description);
    }

    /** A whole-number option with a default. */
    public static OptionSpec integer(String name, int defaultValue, String description) {
        return new OptionSpec(name, OptionType.INTEGER, defaultValue, false, List.of(), description);
    }

    /** A whole-number option that must be given. */
    public static OptionSpec requiredInteger(String name, String description) {
        return new OptionSpec(name, OptionType.INTEGER, null, true, List.of(), description);
    }

    /** A number option with a default. */
    public static OptionSpec number(String name, double defaultValue, String description) {
        return new OptionSpec(name, OptionType.NUMBER, defaultValue, false, List.of(), description);
    }

    /** A string option; the default may be {@code null} (absent). */
    public static OptionSpec string(String name, String defaultValue, String description) {
        return new OptionSpec(name, OptionType.STRING, defaultValue, false, List.of(), description);
    }

    /** A list-of-strings option; the default may be {@code null} (absent). */
    public static OptionSpec stringList(String name, List<String> defaultValue, String description) {
        return new OptionSpec(name, OptionType.STRING_LIST, defaultValue == null ? null : List.copyOf(defaultValue), false, List.of(), description);
    }

    /** An option that is a string or a list of strings; the default may be {@code null} (absent). */
    public static OptionSpec stringOrStringList(String name, Object defaultValue, String description) {
        return new OptionSpec(name, OptionType.STRING_OR_STRING_LIST, defaultValue, false, List.of(), description);
    }

    /** A string-to-number map option with a default (often empty). */
    public static OptionSpec numberMap(String name, Map<String, Double> defaultValue, String description) {
        return new OptionSpec(name, OptionType.NUMBER_MAP, Map.copyOf(defaultValue), false, List.of(), description);
    }

    /** A string-to-whole-number map option with a default (often empty). */
    public static OptionSpec integerMap(String name, Map<String, Integer> defaultValue, String description) {
        return new OptionSpec(name, OptionType.INTEGER_MAP, Map.copyOf(defaultValue), false, List.of(), description);
    }

    /** An option whose value is one of {@code choices}. */
    public static OptionSpec choice(String name, Object defaultValue, List<Object> choices, String description) {
        return new OptionSpec(name, OptionType.CHOICE, defaultValue, false, choices, description);
    }
}
