package dev.graft.runtime.targeting;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The value of PEFT's {@code target_modules} or {@code exclude_modules}: a list of module names, a regular
 * expression, or (for {@code target_modules} only) the shorthand {@code "all-linear"}.
 *
 * <p>Semantics, as in PEFT's {@code check_target_module_exists}: a list entry matches a module whose full
 * name equals it or ends with {@code "." + entry}; a regular expression must match the full name
 * ({@code re.fullmatch}).
 */
public sealed interface ModulePatterns permits ModulePatterns.Names, ModulePatterns.Regex, ModulePatterns.AllLinear {
    /** PEFT's {@code INCLUDE_LINEAR_LAYERS_SHORTHAND}, compared ignoring case. */
    String ALL_LINEAR = "all-linear";

    /** A list of module names, matched exactly or as a dot-separated suffix. */
    static ModulePatterns names(List<String> names) {
        return new Names(names);
    }

    /** A regular expression that must match a module's full name. */
    static ModulePatterns regex(String pattern) {
        return new Regex(pattern);
    }

    /** Every linear module except the output layer(s). */
    static ModulePatterns allLinear() {
        return new AllLinear();
    }

    /**
     * A {@code target_modules} string as PEFT reads it: {@code "all-linear"} in any case is the shorthand,
     * anything else a regular expression.
     */
    static ModulePatterns targetString(String value) {
        requireNonNull(value, "value is null");
        return value.toLowerCase(Locale.ROOT).equals(ALL_LINEAR) ? allLinear() : regex(value);
    }

    /**
     * Module names matched exactly or by suffix.
     *
     * @param names the names; an empty list matches nothing
     */
    record Names(List<String> names) implements ModulePatterns {
        public Names {
            names = List.copyOf(requireNonNull(names, "names is null"));
        }

        /** Whether {@code moduleName} equals a name. */
        public boolean matchesExactly(String moduleName) {
            return names.contains(moduleName);
        }

        /** Whether {@code moduleName} ends with {@code "." + name} for some name. */
        public boolean matchesSuffix(String moduleName) {
            for (String name : names) {
                if (moduleName.endsWith("." + name)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public String toString() {
            return names.toString();
        }
    }

    /**
     * A Python regular expression matched against the full module name. It is compiled by
     * {@link java.util.regex}, with Unicode character classes as in Python 3; the Python spellings of
     * named groups, {@code (?P<name>...)} and {@code (?P=name)}, are accepted.
     */
    final class Regex implements ModulePatterns {
        private final String pattern;
        private final Pattern compiled;

        public Regex(String pattern) {
            this.pattern = requireNonNull(pattern, "pattern is null");
            this.compiled = PythonRegex.compile(pattern);
        }

        /** The expression as given. */
        public String pattern() {
            return pattern;
        }

        /** Whether the expression matches all of {@code moduleName} (Python's {@code re.fullmatch}). */
        public boolean fullMatch(String moduleName) {
            return compiled.matcher(moduleName).matches();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Regex regex && regex.pattern.equals(pattern);
        }

        @Override
        public int hashCode() {
            return pattern.hashCode();
        }

        @Override
        public String toString() {
            return "'" + pattern + "'";
        }
    }

    /** The {@code "all-linear"} shorthand. */
    record AllLinear() implements ModulePatterns {
        @Override
        public String toString() {
            return "'" + ALL_LINEAR + "'";
        }
    }
}
