package dev.graft.plugin.ia3;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.PeftNames;

import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which targeted modules IA³ treats as feed-forward (scaling their input rather than their output), by PEFT's
 * rule ({@code IA3Model._check_target_module_feedforward}): a list matches a module whose full name ends with one
 * of its entries (a plain suffix test, so {@code down_proj} matches {@code model.layers.0.mlp.down_proj}); a
 * string is a (Python) regular expression that must match the full module name, compiled by the SPI's
 * {@link PeftNames} as everywhere else a PEFT expression is read.
 */
public final class FeedForwardModules {
    private final List<String> suffixes;
    private final Pattern pattern;

    private FeedForwardModules(List<String> suffixes, Pattern pattern) {
        this.suffixes = suffixes;
        this.pattern = pattern;
    }

    /** PEFT's list form: module names ending with one of {@code entries}. */
    public static FeedForwardModules ofList(List<String> entries) {
        return new FeedForwardModules(List.copyOf(requireNonNull(entries, "entries is null")), null);
    }

    /**
     * PEFT's string form: module names the regular expression {@code regex} matches in full.
     *
     * @throws IllegalArgumentException if {@code regex} is not a regular expression
     */
    public static FeedForwardModules ofPattern(String regex) {
        requireNonNull(regex, "regex is null");
        try {
            return new FeedForwardModules(null, PeftNames.compile(regex));
        }
        catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(format("feedforward_modules '%s' is not a regular expression: %s", regex, e.getDescription()), e);
        }
    }

    /** Whether the module named {@code moduleName} is feed-forward. */
    public boolean matches(String moduleName) {
        requireNonNull(moduleName, "moduleName is null");
        if (pattern != null) {
            return pattern.matcher(moduleName).matches();
        }
        return suffixes.stream().anyMatch(moduleName::endsWith);
    }

    /** The list entries, in order; empty for the string form. */
    public List<String> entries() {
        return suffixes == null ? List.of() : suffixes;
    }

    /** Whether this is the list form. */
    public boolean isList() {
        return suffixes != null;
    }

    @Override
    public String toString() {
        return pattern != null ? "\"" + pattern.pattern() + "\"" : suffixes.toString();
    }
}
