package dev.graft.plugin.lora;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.PeftNames;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A map from module-name patterns to values, looked up the way Hugging Face PEFT resolves {@code rank_pattern} and
 * {@code alpha_pattern} ({@code get_pattern_key} in {@code src/peft/utils/other.py}): the keys are tried in the
 * order given and the first key {@code k} for which the regular expression {@code (.*\.)?(k)$} matches the module
 * name from its start wins. A key therefore matches the whole name or a suffix that starts right after a dot:
 * {@code v_proj} matches {@code model.layers.0.self_attn.v_proj} but {@code proj} does not, and a key may itself be
 * a regular expression such as {@code layers\.0\.self_attn\.q_proj}. Keys are Python regular expressions, compiled by
 * the SPI's {@link PeftNames} as everywhere else a PEFT expression is read.
 */
final class ModulePatterns {
    private final List<Rule> rules;

    private ModulePatterns(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    /**
     * The patterns of {@code values}, in its iteration order (the order of the recipe or {@code adapter_config.json}).
     *
     * @throws java.util.regex.PatternSyntaxException if a key is not a valid regular expression
     */
    static ModulePatterns of(Map<String, Double> values) {
        requireNonNull(values, "values is null");
        List<Rule> rules = new ArrayList<>();
        values.forEach((key, value) -> rules.add(new Rule(compile(key), value)));
        return new ModulePatterns(rules);
    }

    /**
     * Compiles PEFT's matcher for one pattern key.
     *
     * @throws java.util.regex.PatternSyntaxException if {@code key} is not a valid regular expression
     */
    static Pattern compile(String key) {
        return PeftNames.patternKey(key);
    }

    /** The value of the first key that matches {@code moduleName}, or empty when none does. */
    Optional<Double> lookup(String moduleName) {
        requireNonNull(moduleName, "moduleName is null");
        for (Rule rule : rules) {
            if (PeftNames.matchesPatternKey(rule.pattern(), moduleName)) {
                return Optional.of(rule.value());
            }
        }
        return Optional.empty();
    }

    private record Rule(Pattern pattern, double value) {
        Rule {
            requireNonNull(pattern, "pattern is null");
        }
    }
}
