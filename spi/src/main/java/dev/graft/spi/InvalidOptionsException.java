package dev.graft.spi;

import static java.lang.String.format;

/**
 * Thrown when a method's options are wrong: an unknown key, a value of the wrong type, a value out of range, or values
 * that are wrong together or for the model. The message names the method, the key, the value and what would be
 * accepted. It is thrown before any tensor is made.
 *
 * <p>The schema ({@link OptionSchema}) makes every message for a single value; a method's own rules use
 * {@link #invalidValue} and {@link #wrongTogether}, so that every message reads the same.
 */
public final class InvalidOptionsException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidOptionsException(String message) {
        super(message);
    }

    /**
     * "Method 'm': option 'k' is V, but must be ALLOWED. Fix the value." A string value is quoted.
     *
     * @param methodId the method's id
     * @param key the option key
     * @param value the value given
     * @param allowed what would be accepted, e.g. {@code "a whole number > 0"}
     */
    public static InvalidOptionsException invalidValue(String methodId, String key, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s. Fix the value.", methodId, key, render(value), allowed));
    }

    /**
     * "Method 'm': " followed by {@code format(message, arguments)}: for values that are each valid but wrong together
     * or for this model. Name every key involved, its value, and what to change.
     */
    public static InvalidOptionsException wrongTogether(String methodId, String message, Object... arguments) {
        return new InvalidOptionsException(format("Method '%s': %s", methodId, format(message, arguments)));
    }

    static String render(Object value) {
        return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    }
}
