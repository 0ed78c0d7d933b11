package dev.graft.it.peft;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.spi.PeftMethod;

import java.util.List;
import java.util.Locale;

/**
 * The methods on the test class path (every plugin module: lora, plora, vera, ia3, bone), found by
 * {@link MethodRegistryLoader} through their {@code @AutoService} registrations, and looked up by {@code peft_type} as
 * {@code adapter_config.json} names it.
 */
final class PeftMethods {
    private static final MethodRegistry REGISTRY = MethodRegistryLoader.load(PeftMethods.class.getClassLoader(), List.of());

    private PeftMethods() {}

    /**
     * The method that reads {@code peftType}, or null when none does. When methods share a checkpoint format (LoRA and
     * PeriodicLoRA both read {@code LORA}), the one whose id is the lower-cased {@code peft_type} wins: a PEFT LoRA
     * folder is LoRA.
     */
    static PeftMethod byPeftType(String peftType) {
        List<LoadedMethod> candidates = REGISTRY.methodsForPeftType(peftType);
        if (candidates.size() == 1) {
            return candidates.get(0).method();
        }
        return candidates.stream()
                .filter(candidate -> candidate.id().equals(peftType.toLowerCase(Locale.ROOT)))
                .map(LoadedMethod::method)
                .findFirst()
                .orElse(null);
    }
}
