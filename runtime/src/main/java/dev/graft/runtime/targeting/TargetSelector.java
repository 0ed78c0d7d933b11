package dev.graft.runtime.targeting;

import dev.graft.spi.LinearSite;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** TEMPORARY stand-in until the targeting branch lands. */
public final class TargetSelector {
    private TargetSelector() {}

    @SuppressWarnings("unchecked")
    public static List<LinearSite> select(TargetRules rules, List<LinearSite> sites, Set<String> outputLayerNames, List<String> defaultTargets) {
        Object targets = rules.targetModules() == null ? defaultTargets : rules.targetModules();
        List<LinearSite> selected = new ArrayList<>();
        for (LinearSite site : sites) {
            boolean match;
            if ("all-linear".equals(targets)) {
                match = !outputLayerNames.contains(site.name());
            }
            else if (targets instanceof String) {
                match = site.name().matches((String) targets);
            }
            else {
                match = ((List<String>) targets).stream().anyMatch(t -> site.name().equals(t) || site.name().endsWith("." + t));
                if (match && rules.layersToTransform() != null) {
                    match = rules.layersToTransform().contains(site.layerIndex());
                }
            }
            if (match) {
                selected.add(site);
            }
        }
        if (selected.isEmpty()) {
            throw new IllegalArgumentException("Target modules " + targets + " not found in the base model");
        }
        return selected;
    }
}
