package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

/**
 * Sets the current thread's context class loader for the length of a try-with-resources block and puts the
 * previous one back on close. The runtime uses it around every call into plugin code, as Trino wraps every SPI
 * call: discovery, {@code PeftMethod.descriptor/create}, every {@code MethodInstance} method, module
 * construction, forward, merge and unmerge, state save/load and training events. Libraries such as DJL and
 * {@link java.util.ServiceLoader} look classes and resources up through the context class loader. A swap is two
 * field writes; the object does not escape the block, so it costs no allocation once compiled.
 *
 * <pre>{@code
 * try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loaded.classLoader())) {
 *     instance = loaded.method().create(options, model);
 * }
 * }</pre>
 */
public final class ThreadContextClassLoader implements AutoCloseable {
    private final Thread thread;
    private final ClassLoader original;

    /** Makes {@code classLoader} the context class loader of the current thread until {@link #close()}. */
    public ThreadContextClassLoader(ClassLoader classLoader) {
        requireNonNull(classLoader, "classLoader is null");
        this.thread = Thread.currentThread();
        this.original = thread.getContextClassLoader();
        thread.setContextClassLoader(classLoader);
    }

    /**
     * The class loader of a plugin object (a {@code PeftMethod}, its instance or a module): the plugin's own
     * loader for a plugin directory, the runtime's for a method on the class path.
     */
    public static ClassLoader classLoaderOf(Object pluginObject) {
        requireNonNull(pluginObject, "pluginObject is null");
        ClassLoader classLoader = pluginObject.getClass().getClassLoader();
        return classLoader == null ? ClassLoader.getSystemClassLoader() : classLoader;
    }

    /** Makes the class loader of {@code pluginObject} ({@link #classLoaderOf}) the context class loader until close. */
    public static ThreadContextClassLoader enter(Object pluginObject) {
        return new ThreadContextClassLoader(classLoaderOf(pluginObject));
    }

    /** Restores the context class loader that was set before this object was made. */
    @Override
    public void close() {
        thread.setContextClassLoader(original);
    }
}
