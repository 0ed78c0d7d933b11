package dev.graft.runtime.plugin;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;
import static java.util.stream.Collectors.joining;
import static java.util.stream.Collectors.toUnmodifiableList;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The PEFT methods the runtime can use, by id, with where each came from, and the plugins that were skipped.
 * Immutable; made by {@link MethodRegistryLoader}. Methods are kept in load order: the class path first, then
 * the plugin directories in the order configured, each directory's plugins by name.
 */
public final class MethodRegistry {
    private final List<LoadedMethod> methods;
    private final Map<String, LoadedMethod> methodsById;
    private final List<PluginProblem> problems;

    /**
     * A registry of {@code methods} (ids must be unique) and the {@code problems} met while loading them.
     *
     * @throws IllegalArgumentException if two methods have the same id
     */
    public MethodRegistry(List<LoadedMethod> methods, List<PluginProblem> problems) {
        this.methods = List.copyOf(requireNonNull(methods, "methods is null"));
        this.problems = List.copyOf(requireNonNull(problems, "problems is null"));
        Map<String, LoadedMethod> byId = new LinkedHashMap<>();
        for (LoadedMethod method : this.methods) {
            LoadedMethod previous = byId.put(method.id(), method);
            if (previous != null) {
                throw new IllegalArgumentException(format("method id '%s' is loaded twice: from %s and from %s", method.id(), previous.source(), method.source()));
            }
        }
        this.methodsById = Collections.unmodifiableMap(byId);
    }

    /** Every loaded method, in load order. */
    public List<LoadedMethod> methods() {
        return methods;
    }

    /** The ids of the loaded methods, in load order. */
    public List<String> ids() {
        return List.copyOf(methodsById.keySet());
    }

    /** The method with {@code id}, if loaded. */
    public Optional<LoadedMethod> method(String id) {
        requireNonNull(id, "id is null");
        return Optional.ofNullable(methodsById.get(id));
    }

    /**
     * The method with {@code id}.
     *
     * @throws IllegalArgumentException naming the loaded ids when no method has {@code id}
     */
    public LoadedMethod requireMethod(String id) {
        return method(id).orElseThrow(() -> new IllegalArgumentException(format(
                "Unknown PEFT method '%s'. Loaded methods: %s. Check the spelling, or put the method's plugin into a plugin directory (see 'graft methods').",
                id, methodsById.isEmpty() ? "none" : String.join(", ", methodsById.keySet()))));
    }

    /**
     * The methods whose descriptor has {@code peftType} (as written in {@code adapter_config.json}), in load
     * order. Usually one; more than one when methods share a checkpoint format.
     */
    public List<LoadedMethod> methodsForPeftType(String peftType) {
        requireNonNull(peftType, "peftType is null");
        return methods.stream()
                .filter(method -> method.descriptor().peftType().equals(peftType))
                .collect(toUnmodifiableList());
    }

    /**
     * The method that loads adapters of {@code peftType}: among {@link #methodsForPeftType}, the one whose id is
     * the lower-cased type ({@code LORA} → {@code lora}) if there is one, else the first loaded.
     */
    public Optional<LoadedMethod> methodForPeftType(String peftType) {
        List<LoadedMethod> candidates = methodsForPeftType(peftType);
        return candidates.stream()
                .filter(method -> method.descriptor().id().equals(peftType.toLowerCase(java.util.Locale.ROOT)))
                .findFirst()
                .or(() -> candidates.stream().findFirst());
    }

    /** Why plugins or methods were skipped, one line each, in the order met. */
    public List<PluginProblem> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return methods.stream().map(method -> method.id() + "@" + method.source()).collect(joining(", ", "MethodRegistry[", "]"));
    }
}
