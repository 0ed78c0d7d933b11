package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * The class loader of one plugin: its jars, isolated from the application class path.
 *
 * <p>Its parent is the platform class loader, so a plugin sees the JDK but nothing of the application class
 * path. Classes of the shared packages ({@link #SHARED_PACKAGES}: the Graft SPI, DJL and the libraries whose
 * types appear in DJL's API) come only from the runtime's loader, parent-first, so that a plugin and the
 * runtime agree on {@code PeftMethod}, {@code NDArray} and friends, and DJL's native libraries load once per
 * JVM. Every other class is looked up child-first in the plugin's jars, then in the JDK. Resources follow the
 * same split ({@link #SHARED_RESOURCES}, {@link #DJL_ENGINE_PROPERTIES_SUFFIX}), which lets DJL find its engines and native libraries through the
 * thread context class loader while plugin code runs.
 *
 * <p>Modelled on Trino's {@code PluginClassLoader}.
 */
public final class PluginClassLoader extends URLClassLoader {
    /** Class-name prefixes served by the runtime's loader: the SPI, DJL, and the libraries DJL's API exposes. */
    public static final List<String> SHARED_PACKAGES = List.of(
            "dev.graft.spi.",
            "ai.djl.",
            // types in DJL's public API (JsonUtils) and its native bridge
            "com.google.gson.",
            "com.sun.jna.",
            // the logging facade DJL logs through; the runtime owns the binding
            "org.slf4j.");

    /**
     * Resource-name prefixes served by the runtime's loader: the shared packages' resources, DJL's service
     * files (engine providers), and the native libraries DJL unpacks on first use with their descriptors
     * ({@code native/lib/}, {@code jnilib/} and {@code pytorch/<flavor>/<classifier>/}).
     */
    public static final List<String> SHARED_RESOURCES = sharedResources();

    /**
     * DJL engines describe themselves in a root resource {@code <engine>-engine.properties} (for example
     * {@code pytorch-engine.properties}, which gives the JNI library's version); it is shared as well.
     */
    public static final String DJL_ENGINE_PROPERTIES_SUFFIX = "-engine.properties";

    /**
     * How the runtime names the loader of a plugin: this prefix, then the plugin's jar or folder. The name shows in
     * stack traces ({@link StackTraceElement#getClassLoaderName()}), which lets {@link PluginFrames} say which
     * plugin a failure came from.
     */
    public static final String NAME_PREFIX = "plugin ";

    private final ClassLoader sharedLoader;

    /**
     * Makes a loader over {@code jars}.
     *
     * @param name a name for diagnostics, such as the plugin's folder name
     * @param jars the plugin's class path
     * @param sharedLoader the runtime's loader, which serves the shared packages
     */
    public PluginClassLoader(String name, List<URL> jars, ClassLoader sharedLoader) {
        super(requireNonNull(name, "name is null"), requireNonNull(jars, "jars is null").toArray(new URL[0]), getPlatformClassLoader());
        this.sharedLoader = requireNonNull(sharedLoader, "sharedLoader is null");
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (isSharedClass(name)) {
            Class<?> shared = sharedLoader.loadClass(name);
            if (resolve) {
                resolveClass(shared);
            }
            return shared;
        }
        synchronized (getClassLoadingLock(name)) {
            Class<?> loaded = findLoadedClass(name);
            if (loaded == null) {
                loaded = name.startsWith("java.") ? getParent().loadClass(name) : findChildFirst(name);
            }
            if (resolve) {
                resolveClass(loaded);
            }
            return loaded;
        }
    }

    private Class<?> findChildFirst(String name) throws ClassNotFoundException {
        try {
            return findClass(name);
        }
        catch (ClassNotFoundException notInPlugin) {
            return getParent().loadClass(name);
        }
    }

    @Override
    public URL getResource(String name) {
        if (isSharedResource(name)) {
            return sharedLoader.getResource(name);
        }
        URL own = findResource(name);
        return own != null ? own : getParent().getResource(name);
    }

    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
        if (isSharedResource(name)) {
            return sharedLoader.getResources(name);
        }
        List<URL> resources = new ArrayList<>(Collections.list(findResources(name)));
        resources.addAll(Collections.list(getParent().getResources(name)));
        return Collections.enumeration(resources);
    }

    /** Whether {@code className} is served by the runtime's loader rather than the plugin's jars. */
    public static boolean isSharedClass(String className) {
        return SHARED_PACKAGES.stream().anyMatch(className::startsWith);
    }

    /** Whether {@code resourceName} is served by the runtime's loader rather than the plugin's jars. */
    public static boolean isSharedResource(String resourceName) {
        String name = resourceName.startsWith("/") ? resourceName.substring(1) : resourceName;
        boolean engineProperties = name.indexOf('/') < 0 && name.endsWith(DJL_ENGINE_PROPERTIES_SUFFIX);
        return engineProperties || SHARED_RESOURCES.stream().anyMatch(name::startsWith);
    }

    private static List<String> sharedResources() {
        List<String> resources = new ArrayList<>();
        for (String packagePrefix : SHARED_PACKAGES) {
            resources.add(packagePrefix.replace('.', '/'));
        }
        // DJL's engine providers
        resources.add("META-INF/services/ai.djl.");
        // descriptors and natives DJL unpacks: native/lib/<engine>.properties, the JNI glue, the libtorch libraries
        resources.add("native/lib/");
        resources.add("jnilib/");
        resources.add("pytorch/");
        return List.copyOf(resources);
    }
}
