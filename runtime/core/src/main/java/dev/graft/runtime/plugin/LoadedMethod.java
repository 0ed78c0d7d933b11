package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.PeftMethod;

/**
 * A method the registry loaded.
 *
 * @param method the provider instance
 * @param descriptor what {@code method.descriptor()} returned at load time
 * @param source where it was loaded from: {@link #CLASSPATH} or the absolute path of the plugin's jar or folder
 * @param classLoader the loader of the plugin; make it the thread context class loader when calling into
 *     the method (see {@link ThreadContextClassLoader})
 */
public record LoadedMethod(PeftMethod method, MethodDescriptor descriptor, String source, ClassLoader classLoader) {
    /** The {@link #source()} of methods found on the runtime's own class path. */
    public static final String CLASSPATH = "classpath";

    public LoadedMethod {
        requireNonNull(method, "method is null");
        requireNonNull(descriptor, "descriptor is null");
        requireNonNull(source, "source is null");
        requireNonNull(classLoader, "classLoader is null");
    }

    /** The method's id, from its descriptor. */
    public String id() {
        return descriptor.id();
    }
}
