package dev.graft.runtime.targeting;

import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * Selects the sites a method attaches to, with the semantics of PEFT's {@code check_target_module_exists}
 * ({@code peft/tuners/tuners_utils.py}) and the error cases of {@code BaseTuner.inject_adapter}.
 *
 * <p>For each site, in model order:
 * <ol>
 * <li>{@code exclude_modules} wins: a regular expression that matches the full name, or a list entry
 * equal to the name or a dot-separated suffix of it, excludes the site.</li>
 * <li>A regular expression in {@code target_modules} must match the full name; {@code layers_to_transform}
 * does not apply (PEFT forbids combining them).</li>
 * <li>A list entry equal to the full name selects the site, whatever {@code layers_to_transform} says.</li>
 * <li>A list entry that is a dot-separated suffix ({@code q_proj} of {@code model.layers.0.self_attn.q_proj},
 * but {@code proj} is no suffix of {@code q_proj}) selects the site, and only this case is then restricted
 * by {@code layers_to_transform}: the layer index found in the name (see {@link LayerIndexes}, which
 * ignores {@link Site#layerIndex()}) must be one of them.</li>
 * </ol>
 * {@code "all-linear"} becomes the list of every site's full name except the output layers, matched as
 * above (so a site whose name ends with {@code "." + } another site's full name is selected too, as in PEFT).
 * Without {@code target_modules}, the method's default targets for the architecture are a list.
 */
public final class TargetSelector {
    private static final int EXAMPLES = 5;

    private TargetSelector() {}

    /**
     * The sites {@code rules} select, in the order of {@code sites}.
     *
     * @param sites the model's sites, in model order
     * @param outputLayerNames the full names of the output layers "all-linear" leaves out ({@code lm_head}
     *     for a decoder, the classifier of a classification model)
     * @param defaultTargets the method's default {@code target_modules} for the architecture, used when
     *     the rules name none; empty when it has none
     * @throws TargetingException if there are no targets at all, or if nothing is selected
     */
    public static <S extends Site> List<S> select(TargetRules rules, List<S> sites, Set<String> outputLayerNames, List<String> defaultTargets) {
        requireNonNull(rules, "rules is null");
        requireNonNull(sites, "sites is null");
        requireNonNull(outputLayerNames, "outputLayerNames is null");
        requireNonNull(defaultTargets, "defaultTargets is null");
        ModulePatterns requested = requestedTargets(rules, sites, defaultTargets);
        ModulePatterns targets = requested instanceof ModulePatterns.AllLinear
                ? ModulePatterns.names(sites.stream().map(Site::name).filter(name -> !outputLayerNames.contains(name)).toList())
                : requested;
        List<Pattern> layersPatterns = rules.layersPattern().stream().map(LayerIndexes::compile).toList();
        List<S> selected = new ArrayList<>();
        List<String> excluded = new ArrayList<>();
        List<String> unmatched = new ArrayList<>();
        for (S site : sites) {
            String name = site.name();
            if (isExcluded(rules, name)) {
                excluded.add(name);
            }
            else if (isTargeted(rules, layersPatterns, targets, name)) {
                selected.add(site);
            }
            else {
                unmatched.add(name);
            }
        }
        if (selected.isEmpty()) {
            throw nothingSelected(rules, requested, sites, excluded, unmatched);
        }
        return List.copyOf(selected);
    }

    private static ModulePatterns requestedTargets(TargetRules rules, List<? extends Site> sites, List<String> defaultTargets) {
        if (rules.targetModules().isPresent()) {
            return rules.targetModules().get();
        }
        if (!defaultTargets.isEmpty()) {
            return ModulePatterns.names(defaultTargets);
        }
        throw new TargetingException(format("target_modules is not set and the method has no default targets for this architecture; set target_modules to a list of module names (the model's module names end in %s), to a regular expression or to \"all-linear\"",
                lastSegments(sites)));
    }

    private static boolean isExcluded(TargetRules rules, String name) {
        if (rules.excludeModules().isEmpty()) {
            return false;
        }
        ModulePatterns exclude = rules.excludeModules().get();
        if (exclude instanceof ModulePatterns.Regex regex) {
            return regex.fullMatch(name);
        }
        ModulePatterns.Names names = (ModulePatterns.Names) exclude;
        return names.matchesExactly(name) || names.matchesSuffix(name);
    }

    private static boolean isTargeted(TargetRules rules, List<Pattern> layersPatterns, ModulePatterns targets, String name) {
        if (targets instanceof ModulePatterns.Regex regex) {
            return regex.fullMatch(name);
        }
        ModulePatterns.Names names = (ModulePatterns.Names) targets;
        if (names.matchesExactly(name)) {
            return true;
        }
        if (!names.matchesSuffix(name)) {
            return false;
        }
        if (rules.layersToTransform().isEmpty()) {
            return true;
        }
        OptionalInt layer = LayerIndexes.find(name, layersPatterns);
        return layer.isPresent() && rules.layersToTransform().contains(layer.getAsInt());
    }

    private static TargetingException nothingSelected(TargetRules rules, ModulePatterns targets, List<? extends Site> sites, List<String> excluded, List<String> unmatched) {
        if (sites.isEmpty()) {
            return new TargetingException(format("Target modules %s not found in the base model: the model has no sites of this kind", targets));
        }
        StringBuilder message = new StringBuilder();
        if (!excluded.isEmpty() && unmatched.isEmpty()) {
            message.append(format("All modules were excluded: exclude_modules %s matches every module of the model, so target_modules %s has nothing to select. Check target_modules and exclude_modules.",
                    rules.excludeModules().get(), targets));
        }
        else if (targets instanceof ModulePatterns.Names names && names.names().isEmpty()) {
            message.append("target_modules is an empty list, so no module is targeted; list module names or give a regular expression.");
        }
        else if (excluded.isEmpty()) {
            message.append(format("Target modules %s not found in the base model. Please check the target modules and try again.", targets));
        }
        else {
            message.append(format("No modules were targeted for adaptation: target_modules %s matches none of the modules exclude_modules %s leaves. Check target_modules and exclude_modules.",
                    targets, rules.excludeModules().get()));
        }
        if (!rules.layersToTransform().isEmpty()) {
            message.append(format(" Note: you specified layers_to_transform %s", rules.layersToTransform()));
            message.append(rules.layersPattern().isEmpty()
                    ? " without layers_pattern, so the layer index is the first numbered segment of a name."
                    : format(" and layers_pattern %s.", rules.layersPattern()));
        }
        message.append(format(" The model's %d modules include %s; their names end in %s.", sites.size(),
                String.join(", ", sites.stream().limit(EXAMPLES).map(Site::name).toList()), lastSegments(sites)));
        return new TargetingException(message.toString());
    }

    /** The distinct last segments of the site names, at most ten. */
    private static List<String> lastSegments(List<? extends Site> sites) {
        Set<String> segments = new LinkedHashSet<>();
        for (Site site : sites) {
            segments.add(site.name().substring(site.name().lastIndexOf('.') + 1));
        }
        return segments.stream().limit(2L * EXAMPLES).toList();
    }
}
