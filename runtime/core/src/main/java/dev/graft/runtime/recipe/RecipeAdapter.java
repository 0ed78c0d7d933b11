package dev.graft.runtime.recipe;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.targeting.TargetRules;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One adapter of a {@link Recipe}: its name, method id, composition, PEFT targeting keys and method options.
 *
 * @param name the adapter name
 * @param method the method id, as {@code graft methods} lists it
 * @param composition {@code sum} (default) or {@code gated}
 * @param targetModules PEFT's {@code target_modules} (list, regex string or {@code all-linear})
 * @param excludeModules PEFT's {@code exclude_modules}
 * @param layersToTransform PEFT's {@code layers_to_transform}
 * @param layersPattern PEFT's {@code layers_pattern}
 * @param options the method's options
 * @param modulesToSave PEFT's {@code modules_to_save}: base modules (by Hugging Face path) trained in full, as a copy per adapter
 * @param fromPreset the preset this adapter was expanded from ({@link RecipePresets}), or null for an adapter the recipe spells out
 */
public record RecipeAdapter(
        @JsonProperty(value = "name", required = true) String name,
        @JsonProperty(value = "method", required = true) String method,
        @JsonProperty("composition") String composition,
        @JsonProperty("target_modules") Object targetModules,
        @JsonProperty("exclude_modules") Object excludeModules,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("layers_pattern") Object layersPattern,
        @JsonProperty("options") Map<String, Object> options,
        @JsonProperty("modules_to_save") @JsonInclude(JsonInclude.Include.NON_NULL) List<String> modulesToSave,
        @JsonProperty(FROM_PRESET) @JsonInclude(JsonInclude.Include.NON_NULL) String fromPreset) {
    /** The field that marks an adapter expanded from a preset. */
    public static final String FROM_PRESET = "from_preset";

    public RecipeAdapter {
        requireNonNull(name, "name is null");
        requireNonNull(method, "method is null");
        options = options == null ? Map.of() : new LinkedHashMap<>(options);
        modulesToSave = modulesToSave == null ? null : List.copyOf(modulesToSave);
    }

    /** The spec to attach: options, targeting rules, composition and modules to save. */
    public AdapterSpec toSpec() {
        Map<String, Object> targets = new LinkedHashMap<>();
        targets.put(TargetRules.TARGET_MODULES, targetModules);
        targets.put(TargetRules.EXCLUDE_MODULES, excludeModules);
        targets.put(TargetRules.LAYERS_TO_TRANSFORM, layersToTransform);
        targets.put(TargetRules.LAYERS_PATTERN, layersPattern);
        return new AdapterSpec(name, options, TargetRules.fromConfig(targets), parsedComposition(), Map.of(), modulesToSave == null ? List.of() : modulesToSave);
    }

    private Composition parsedComposition() {
        if (composition == null) {
            return Composition.SUM;
        }
        try {
            return Composition.valueOf(composition.toUpperCase(Locale.ROOT));
        }
        catch (IllegalArgumentException e) {
            throw new RecipeException(String.format("adapter '%s': composition '%s' is unknown; use sum or gated", name, composition));
        }
    }
}
