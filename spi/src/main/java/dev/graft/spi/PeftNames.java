package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;

/**
 * Hugging Face PEFT's module-name matching, in one place for the runtime and every plugin, so that one PEFT
 * expression means the same in {@code target_modules}, {@code layers_pattern}, {@code rank_pattern},
 * {@code alpha_pattern} and {@code feedforward_modules}. PEFT's expressions are Python regular expressions: they are
 * compiled with Unicode character classes ({@code \d}, {@code \w}, {@code \s} are Unicode-aware in Python 3), and
 * Python's named groups {@code (?P<name>...)} and back-references {@code (?P=name)} are rewritten to Java's spelling.
 */
public final class PeftNames {
    private static final Pattern PYTHON_BACK_REFERENCE = Pattern.compile("\\(\\?P=(\\w+)\\)");

    private PeftNames() {}

    /**
     * Compiles a Python regular expression; match it with {@code matches()} for Python's {@code re.fullmatch} and
     * {@code lookingAt()} for {@code re.match}.
     *
     * @throws java.util.regex.PatternSyntaxException if the expression does not compile
     */
    public static Pattern compile(String pythonRegex) {
        requireNonNull(pythonRegex, "pythonRegex is null");
        String java = PYTHON_BACK_REFERENCE.matcher(pythonRegex.replace("(?P<", "(?<")).replaceAll("\\\\k<$1>");
        return Pattern.compile(java, Pattern.UNICODE_CHARACTER_CLASS);
    }

    /**
     * The matcher of one {@code rank_pattern}/{@code alpha_pattern} key, as PEFT's {@code get_pattern_key}:
     * {@code re.match(r"(.*\.)?(key)$", name)}, so a key matches the whole name or a suffix that starts right after a
     * dot. Test names with {@link #matchesPatternKey}.
     *
     * @throws java.util.regex.PatternSyntaxException if {@code key} is not a valid regular expression
     */
    public static Pattern patternKey(String key) {
        requireNonNull(key, "key is null");
        return compile("(.*\\.)?(" + key + ")$");
    }

    /** Whether {@code moduleName} matches a key compiled by {@link #patternKey} (anchored at the start, as {@code re.match}). */
    public static boolean matchesPatternKey(Pattern key, String moduleName) {
        requireNonNull(key, "key is null");
        requireNonNull(moduleName, "moduleName is null");
        return key.matcher(moduleName).lookingAt();
    }
}
