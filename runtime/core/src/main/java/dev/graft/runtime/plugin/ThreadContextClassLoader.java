package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

/**
 * Sets the current thread's context class loader for the length of a try-with-resources block and puts the
 * previous one back on close. Use it around every call into plugin code: libraries such as DJL and
 * {@link java.util.ServiceLoader} look classes and resources up through the context class loader.
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

    /** Restores the context class loader that was set before this object was made. */
    @Override
    public void close() {
        thread.setContextClassLoader(original);
    }
}
