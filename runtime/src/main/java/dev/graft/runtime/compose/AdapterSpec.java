package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

import dev.graft.runtime.targeting.TargetRules;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What to attach: an adapter name, the method's raw options (validated against its schema when attached), the
 * PEFT targeting rules for linear sites, and the composition.
 *
 * @param name the adapter name, e.g. {@code default}
 * @param options the method's options as parsed from JSON/YAML (targeting keys excluded)
 * @param targets PEFT targeting rules ({@code target_modules}, {@code exclude_modules}, {@code layers_to_transform})
 * @param composition sum or gated
 */
public record AdapterSpec(String name, Map<String, Object> options, TargetRules targets, Composition composition) {
    public AdapterSpec {
        requireNonNull(name, "name is null");
        requireNonNull(options, "options is null");
        requireNonNull(targets, "targets is null");
        requireNonNull(composition, "composition is null");
        options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
    }
}
