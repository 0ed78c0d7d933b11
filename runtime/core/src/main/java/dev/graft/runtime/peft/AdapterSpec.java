package dev.graft.runtime.peft;

import static java.util.Objects.requireNonNull;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.targeting.TargetRules;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What to attach: an adapter name, the method's raw options (validated against its schema when attached), the
 * PEFT targeting rules for linear sites, the composition, and the base modules the adapter trains a full copy of.
 *
 * @param name the adapter name, e.g. {@code default}
 * @param options the method's options as parsed from JSON/YAML (targeting keys excluded)
 * @param targets PEFT targeting rules ({@code target_modules}, {@code exclude_modules}, {@code layers_to_transform})
 * @param composition sum or gated
 * @param extraConfig configuration fields the method does not know (from a newer PEFT, say), kept so that a
 *        saved adapter carries them on
 * @param modulesToSave PEFT's {@code modules_to_save}: base modules by Hugging Face path ({@code pooler.dense},
 *        {@code encoder.layer.0.output.LayerNorm}) that get a trainable copy of their own; empty for none
 */
public record AdapterSpec(String name, Map<String, Object> options, TargetRules targets, Composition composition, Map<String, Object> extraConfig,
        List<String> modulesToSave) {
    public AdapterSpec {
        requireNonNull(name, "name is null");
        requireNonNull(options, "options is null");
        requireNonNull(targets, "targets is null");
        requireNonNull(composition, "composition is null");
        requireNonNull(extraConfig, "extraConfig is null");
        modulesToSave = List.copyOf(requireNonNull(modulesToSave, "modulesToSave is null"));
        options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
        extraConfig = Collections.unmodifiableMap(new LinkedHashMap<>(extraConfig));
    }

    /** A spec without modules to save. */
    public AdapterSpec(String name, Map<String, Object> options, TargetRules targets, Composition composition, Map<String, Object> extraConfig) {
        this(name, options, targets, composition, extraConfig, List.of());
    }

    /** A spec without extra configuration fields or modules to save. */
    public AdapterSpec(String name, Map<String, Object> options, TargetRules targets, Composition composition) {
        this(name, options, targets, composition, Map.of(), List.of());
    }
}
