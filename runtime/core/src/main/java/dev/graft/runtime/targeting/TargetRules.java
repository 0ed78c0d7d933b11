package dev.graft.runtime.targeting;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * Which modules a PEFT method attaches to, as the keys {@code target_modules}, {@code exclude_modules},
 * {@code layers_to_transform} and {@code layers_pattern} of a PEFT config say. {@link TargetSelector}
 * applies them.
 *
 * <p>The checks PEFT's configs make on these keys (for example {@code LoraConfig.__post_init__}) are
 * made here too: {@code layers_to_transform} and {@code layers_pattern} need {@code target_modules} to
 * be a list (or absent), and {@code layers_pattern} needs {@code layers_to_transform}.
 *
 * @param targetModules the modules to target; empty to use the method's defaults for the architecture
 * @param excludeModules the modules never to target, whatever {@code targetModules} says; never "all-linear"
 * @param layersToTransform the layer indices to restrict list targets to; empty for every layer
 * @param layersPattern the names of the module lists that hold the layers (such as {@code layers},
 *     {@code h}, {@code layer}); empty to take the first numbered path segment
 */
public record TargetRules(
        Optional<ModulePatterns> targetModules,
        Optional<ModulePatterns> excludeModules,
        List<Integer> layersToTransform,
        List<String> layersPattern) {
    public static final String TARGET_MODULES = "target_modules";
    public static final String EXCLUDE_MODULES = "exclude_modules";
    public static final String LAYERS_TO_TRANSFORM = "layers_to_transform";
    public static final String LAYERS_PATTERN = "layers_pattern";

    public TargetRules {
        requireNonNull(targetModules, "targetModules is null");
        requireNonNull(excludeModules, "excludeModules is null");
        layersToTransform = List.copyOf(requireNonNull(layersToTransform, "layersToTransform is null"));
        layersPattern = List.copyOf(requireNonNull(layersPattern, "layersPattern is null"));
        if (excludeModules.filter(ModulePatterns.AllLinear.class::isInstance).isPresent()) {
            throw new TargetingException("exclude_modules cannot be \"all-linear\": the shorthand exists for target_modules only (as a string, exclude_modules is a regular expression)");
        }
        boolean targetIsString = targetModules.filter(patterns -> !(patterns instanceof ModulePatterns.Names)).isPresent();
        if (targetIsString && !layersToTransform.isEmpty()) {
            throw new TargetingException(format("layers_to_transform %s cannot be used when target_modules is a string (%s); list the module names instead, as PEFT requires",
                    layersToTransform, targetModules.get()));
        }
        if (targetIsString && !layersPattern.isEmpty()) {
            throw new TargetingException(format("layers_pattern %s cannot be used when target_modules is a string (%s); list the module names instead, as PEFT requires",
                    layersPattern, targetModules.get()));
        }
        if (!layersPattern.isEmpty() && layersToTransform.isEmpty()) {
            throw new TargetingException(format("layers_pattern %s is set but layers_to_transform is not; when layers_pattern is specified, layers_to_transform must also be specified",
                    layersPattern));
        }
        for (String pattern : layersPattern) {
            LayerIndexes.compile(pattern);
        }
    }

    /**
     * These rules as {@code adapter_config.json} values, the inverse of {@link #fromConfig}: a list of names, a
     * regex string or {@code "all-linear"}; {@code null} for what is unset.
     */
    public Map<String, Object> toConfig() {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put(TARGET_MODULES, targetModules.map(TargetRules::configValue).orElse(null));
        config.put(EXCLUDE_MODULES, excludeModules.map(TargetRules::configValue).orElse(null));
        config.put(LAYERS_TO_TRANSFORM, layersToTransform.isEmpty() ? null : layersToTransform);
        config.put(LAYERS_PATTERN, layersPattern.isEmpty() ? null : layersPattern.size() == 1 ? layersPattern.get(0) : layersPattern);
        return config;
    }

    private static Object configValue(ModulePatterns patterns) {
        if (patterns instanceof ModulePatterns.Names names) {
            return names.names();
        }
        if (patterns instanceof ModulePatterns.Regex regex) {
            return regex.pattern();
        }
        return ModulePatterns.ALL_LINEAR;
    }

    /** Rules that target {@code targetModules}, with no exclusions and no layer restriction. */
    public static TargetRules targeting(ModulePatterns targetModules) {
        return new TargetRules(Optional.of(targetModules), Optional.empty(), List.of(), List.of());
    }

    /** Rules that use the method's default targets for the architecture. */
    public static TargetRules defaults() {
        return new TargetRules(Optional.empty(), Optional.empty(), List.of(), List.of());
    }

    /**
     * Reads the targeting keys of a PEFT config as parsed from {@code adapter_config.json}; other keys
     * are ignored. Accepted values: {@code target_modules}: null, a string (a regular expression, or
     * "all-linear") or a list of strings; {@code exclude_modules}: null, a string (a regular expression)
     * or a list of strings; {@code layers_to_transform}: null, an integer or a list of integers;
     * {@code layers_pattern}: null, a string or a list of strings.
     *
     * @throws TargetingException naming the key when a value has the wrong type or the combination is one
     *     PEFT rejects
     */
    public static TargetRules fromConfig(Map<String, ?> config) {
        requireNonNull(config, "config is null");
        try {
            return parse(config);
        }
        catch (TargetingException e) {
            throw new TargetingException("Invalid PEFT targeting configuration: " + e.getMessage());
        }
    }

    private static TargetRules parse(Map<String, ?> config) {
        Object targetValue = config.get(TARGET_MODULES);
        Object layersToTransformValue = config.get(LAYERS_TO_TRANSFORM);
        Object layersPatternValue = config.get(LAYERS_PATTERN);
        Optional<ModulePatterns> targetModules = patterns(TARGET_MODULES, targetValue, true);
        Optional<ModulePatterns> excludeModules = patterns(EXCLUDE_MODULES, config.get(EXCLUDE_MODULES), false);
        List<Integer> layersToTransform = integers(LAYERS_TO_TRANSFORM, layersToTransformValue);
        // PEFT treats an empty layers_pattern ("" or []) as absent
        List<String> layersPattern = layersPatternValue == null || "".equals(layersPatternValue)
                ? List.of()
                : strings(LAYERS_PATTERN, layersPatternValue, "null, a string or a list of strings");
        // PEFT checks "is not None", so an empty list next to a string target is already an error
        if (targetValue instanceof String && layersToTransformValue != null) {
            throw new TargetingException(format("%s cannot be used when %s is a string ('%s'); list the module names instead, as PEFT requires",
                    LAYERS_TO_TRANSFORM, TARGET_MODULES, targetValue));
        }
        if (targetValue instanceof String && layersPatternValue != null) {
            throw new TargetingException(format("%s cannot be used when %s is a string ('%s'); list the module names instead, as PEFT requires",
                    LAYERS_PATTERN, TARGET_MODULES, targetValue));
        }
        // PEFT tests truthiness: layers_to_transform = 0 counts as absent
        if (!layersPattern.isEmpty() && (layersToTransform.isEmpty() || isZero(layersToTransformValue))) {
            throw new TargetingException(format("%s %s is set but %s is %s; when %s is specified, %s must also be specified (write [0], not 0, for the first layer)",
                    LAYERS_PATTERN, layersPatternValue, LAYERS_TO_TRANSFORM, layersToTransformValue, LAYERS_PATTERN, LAYERS_TO_TRANSFORM));
        }
        return new TargetRules(targetModules, excludeModules, layersToTransform, layersPattern);
    }

    private static Optional<ModulePatterns> patterns(String key, Object value, boolean target) {
        if (value == null) {
            return Optional.empty();
        }
        if (value instanceof String string) {
            try {
                return Optional.of(target ? ModulePatterns.targetString(string) : ModulePatterns.regex(string));
            }
            catch (TargetingException e) {
                throw new TargetingException(format("%s: %s", key, e.getMessage()));
            }
        }
        String expected = target ? "null, a regular expression, \"all-linear\" or a list of module names" : "null, a regular expression or a list of module names";
        return Optional.of(ModulePatterns.names(strings(key, value, expected)));
    }

    private static List<String> strings(String key, Object value, String expected) {
        if (value instanceof String string) {
            return List.of(string);
        }
        if (!(value instanceof Collection<?> collection)) {
            throw wrongType(key, expected, value);
        }
        List<String> strings = new ArrayList<>(collection.size());
        int index = 0;
        for (Object element : collection) {
            if (!(element instanceof String string)) {
                throw new TargetingException(format("%s must be %s, but element %d is %s", key, expected, index, describe(element)));
            }
            strings.add(string);
            index++;
        }
        return strings;
    }

    private static List<Integer> integers(String key, Object value) {
        String expected = "null, an integer or a list of integers";
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof Collection<?> collection)) {
            Integer single = integer(value);
            if (single == null) {
                throw wrongType(key, expected, value);
            }
            return List.of(single);
        }
        List<Integer> integers = new ArrayList<>(collection.size());
        int index = 0;
        for (Object element : collection) {
            Integer integer = integer(element);
            if (integer == null) {
                throw new TargetingException(format("%s must be %s, but element %d is %s", key, expected, index, describe(element)));
            }
            integers.add(integer);
            index++;
        }
        return integers;
    }

    /** The int value of an integral number that fits in an int, or null. */
    private static Integer integer(Object value) {
        if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte || value instanceof BigInteger) {
            BigInteger big = value instanceof BigInteger bigInteger ? bigInteger : BigInteger.valueOf(((Number) value).longValue());
            if (big.bitLength() < Integer.SIZE) {
                return big.intValue();
            }
        }
        return null;
    }

    private static boolean isZero(Object value) {
        Integer integer = value instanceof Collection ? null : integer(value);
        return integer != null && integer == 0;
    }

    private static TargetingException wrongType(String key, String expected, Object value) {
        return new TargetingException(format("%s must be %s, found %s", key, expected, describe(value)));
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof String) {
            return format("the string \"%s\"", value);
        }
        return format("%s %s", value.getClass().getSimpleName(), value);
    }
}
