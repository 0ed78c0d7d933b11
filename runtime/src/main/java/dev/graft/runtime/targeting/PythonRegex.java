package dev.graft.runtime.targeting;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import static java.lang.String.format;

/** Compiles the Python regular expressions of PEFT configurations with {@link java.util.regex}. */
final class PythonRegex {
    private static final Pattern PYTHON_BACK_REFERENCE = Pattern.compile("\\(\\?P=(\\w+)\\)");

    private PythonRegex() {}

    /**
     * Compiles {@code pattern} with Unicode character classes ({@code \d}, {@code \w} and {@code \s} are
     * Unicode-aware in Python 3), after rewriting Python's named groups {@code (?P<name>...)} and
     * back-references {@code (?P=name)} to Java's spelling.
     *
     * @throws TargetingException if the expression does not compile
     */
    static Pattern compile(String pattern) {
        String java = PYTHON_BACK_REFERENCE.matcher(pattern.replace("(?P<", "(?<")).replaceAll("\\\\k<$1>");
        try {
            return Pattern.compile(java, Pattern.UNICODE_CHARACTER_CLASS);
        }
        catch (PatternSyntaxException e) {
            throw new TargetingException(format("'%s' is not a valid regular expression: %s at index %d", pattern, e.getDescription(), e.getIndex()));
        }
    }
}
