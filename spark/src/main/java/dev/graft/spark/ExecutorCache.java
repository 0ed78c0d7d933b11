package dev.graft.spark;

import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.train.RoutedModel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one executor JVM loads once and keeps for every task it runs: the method registries (by plugin folders) and
 * the base models with their adapters for inference (by model and adapter folders). Nothing is evicted: an executor
 * serves one job's models. The entries are shared by the JVM's tasks, which lock a model while they run it.
 */
final class ExecutorCache {
    private static final Map<List<String>, MethodRegistry> REGISTRIES = new ConcurrentHashMap<>();
    private static final Map<List<String>, RoutedModel> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger MODEL_LOADS = new AtomicInteger();

    private ExecutorCache() {}

    /** The methods on the class path and in {@code pluginDirectories}, loaded once per JVM. */
    static MethodRegistry registry(List<String> pluginDirectories) {
        return REGISTRIES.computeIfAbsent(List.copyOf(pluginDirectories),
                directories -> MethodRegistryLoader.load(ExecutorCache.class.getClassLoader(), directories.stream().map(Path::of).toList()));
    }

    /** {@code model} (null: the one the adapters name) with {@code adapters} on it, loaded once per JVM. */
    static RoutedModel routed(String model, List<String> adapters, List<String> pluginDirectories) {
        List<String> key = new ArrayList<>();
        key.add(String.valueOf(model));
        key.addAll(adapters);
        return MODELS.computeIfAbsent(List.copyOf(key), ignored -> {
            MODEL_LOADS.incrementAndGet();
            return RoutedModel.open(adapters.stream().map(Path::of).toList(), model, registry(pluginDirectories));
        });
    }

    /** How many times this JVM loaded a base model for inference. */
    static int modelLoads() {
        return MODEL_LOADS.get();
    }
}
