package dev.graft.runtime.targeting;

import java.util.List;
import java.util.Map;

/** TEMPORARY stand-in until the targeting branch lands. */
public record TargetRules(Object targetModules, Object excludeModules, List<Integer> layersToTransform) {
    public Map<String, Object> toConfig() {
        Map<String, Object> config = new java.util.LinkedHashMap<>();
        config.put("target_modules", targetModules);
        config.put("exclude_modules", excludeModules);
        config.put("layers_to_transform", layersToTransform);
        return config;
    }

    @SuppressWarnings("unchecked")
    public static TargetRules fromConfig(Map<String, Object> config) {
        Object layers = config.get("layers_to_transform");
        return new TargetRules(config.get("target_modules"), config.get("exclude_modules"),
                layers == null ? null : layers instanceof Integer ? List.of((Integer) layers) : (List<Integer>) layers);
    }
}
