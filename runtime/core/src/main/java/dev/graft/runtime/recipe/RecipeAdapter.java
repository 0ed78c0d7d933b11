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
import java.util.Objects;

/**
 * One adapter of a {@link Recipe}: its name, method id, composition, PEFT targeting keys and method options; or, with
 * {@code path}, a trained adapter folder to load (its method, targets and options are the folder's).
 * <pre>
 * - {name: spam, method: adapter, options: {reduction_factor: 16}}       # a fresh adapter, trained
 * - {name: spam, path: runs/spam/adapter/spam}                           # a trained one, loaded frozen
 * - {name: spam, path: runs/spam/adapter/spam, trainable: true}          # a trained one, trained further
 * </pre>
 *
 * @param name the adapter name
 * @param method the method id, as {@code graft methods} lists it; optional with {@code path} (the folder's method), and
 *        checked against it when given
 * @param composition {@code sum} (default) or {@code gated}
 * @param targetModules PEFT's {@code target_modules} (list, regex string or {@code all-linear})
 * @param excludeModules PEFT's {@code exclude_modules}
 * @param layersToTransform PEFT's {@code layers_to_transform}
 * @param layersPattern PEFT's {@code layers_pattern}
 * @param options the method's options
 * @param path a trained adapter folder (PEFT's layout) to load instead of creating a fresh adapter; relative to the recipe
 * @param trainable whether training updates the adapter: default true for a fresh adapter, false for a loaded one (PEFT's
 *        {@code is_trainable=False}); a fuse block's adapters are frozen whatever it says
 * @param modulesToSave PEFT's {@code modules_to_save}: base modules (by Hugging Face path) trained in full, as a copy per adapter
 * @param fromPreset the preset this adapter was expanded from ({@link RecipePresets}), or null for an adapter the recipe spells out
 */
public record RecipeAdapter(
        @JsonProperty(value = "name", required = true) String name,
        @JsonProperty("method") String method,
        @JsonProperty("composition") String composition,
        @JsonProperty("target_modules") Object targetModules,
        @JsonProperty("exclude_modules") Object excludeModules,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("layers_pattern") Object layersPattern,
        @JsonProperty("options") Map<String, Object> options,
        @JsonProperty("path") @JsonInclude(JsonInclude.Include.NON_NULL) String path,
        @JsonProperty("trainable") @JsonInclude(JsonInclude.Include.NON_NULL) Boolean trainable,
        @JsonProperty("modules_to_save") @JsonInclude(JsonInclude.Include.NON_NULL) List<String> modulesToSave,
        @JsonProperty(FROM_PRESET) @JsonInclude(JsonInclude.Include.NON_NULL) String fromPreset) {
    /** The field that marks an adapter expanded from a preset. */
    public static final String FROM_PRESET = "from_preset";

    public RecipeAdapter {
        requireNonNull(name, "name is null");
        if (method == null && path == null) {
            throw new IllegalArgumentException(String.format("adapter '%s' needs a method, or a path to a trained adapter", name));
        }
        options = options == null ? Map.of() : new LinkedHashMap<>(options);
        modulesToSave = modulesToSave == null ? null : List.copyOf(modulesToSave);
    }

    /** Whether training updates this adapter: {@code trainable}, else true for a fresh adapter and false for a loaded one. */
    public boolean isTrainable() {
        return trainable != null ? trainable : path == null;
    }

    /** This adapter with {@code path} in place of its path (the reader resolves it against the recipe's folder). */
    public RecipeAdapter withPath(String path) {
        return new RecipeAdapter(name, method, composition, targetModules, excludeModules, layersToTransform, layersPattern, options, path, trainable, modulesToSave, fromPreset);
    }

    /** This adapter with its method id, read from its folder when the recipe left it out. */
    public RecipeAdapter withMethod(String method) {
        return new RecipeAdapter(name, method, composition, targetModules, excludeModules, layersToTransform, layersPattern, options, path, trainable, modulesToSave, fromPreset);
    }

    /**
     * Refuses, in one line, what a loaded adapter ({@code path}) cannot take: method options, targeting keys or a
     * composition (the folder's config decides them).
     */
    public void checkLoaded() {
        if (path == null) {
            return;
        }
        Map<String, Object> given = new LinkedHashMap<>();
        given.put("composition", composition);
        given.put(TargetRules.TARGET_MODULES, targetModules);
        given.put(TargetRules.EXCLUDE_MODULES, excludeModules);
        given.put(TargetRules.LAYERS_TO_TRANSFORM, layersToTransform);
        given.put(TargetRules.LAYERS_PATTERN, layersPattern);
        given.put("options", options.isEmpty() ? null : options);
        given.put("modules_to_save", modulesToSave);
        given.values().removeIf(Objects::isNull);
        if (!given.isEmpty()) {
            throw new RecipeException(String.format("adapter '%s' loads the trained adapter in %s, whose adapter_config.json decides its targets, options and composition; "
                    + "remove %s (or remove path to create a fresh adapter)", name, path, String.join(", ", given.keySet())));
        }
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
