package dev.graft.runtime.targeting;

import dev.graft.spi.PeftNames;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import static java.lang.String.format;

/** Compiles the Python regular expressions of PEFT configurations with {@link PeftNames}, failing with a {@link TargetingException}. */
final class PythonRegex {
    private PythonRegex() {}

    /**
     * Compiles {@code pattern} as {@link PeftNames#compile} does.
     *
     * @throws TargetingException if the expression does not compile
     */
    static Pattern compile(String pattern) {
        try {
            return PeftNames.compile(pattern);
        }
        catch (PatternSyntaxException e) {
            throw new TargetingException(format("'%s' is not a valid regular expression: %s at index %d", pattern, e.getDescription(), e.getIndex()));
        }
    }
}
