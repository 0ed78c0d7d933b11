package dev.graft.runtime.plugin;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SpiVersion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.net.MalformedURLException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.jar.JarFile;

/**
 * Builds a {@link MethodRegistry}: finds {@link PeftMethod} providers on the runtime's class path and in
 * plugin directories, each plugin in its own {@link PluginClassLoader}, and checks them.
 *
 * <p>A plugin is skipped, with one {@link PluginProblem}, when one of its jars is not a valid jar, when it
 * declares no provider, or when finding, constructing or describing a provider throws anything (linkage errors
 * and service configuration errors included). A single method is skipped when it was built against an
 * incompatible SPI version or when its id is already taken (the first one loaded wins). Everything else loads.
 */
public final class MethodRegistryLoader {
    private static final String SERVICE_FILE = "META-INF/services/" + PeftMethod.class.getName();

    private MethodRegistryLoader() {}

    /** Loads the methods on the runtime's class path and in the configured plugin directories. */
    public static MethodRegistry load(PluginConfiguration configuration) {
        requireNonNull(configuration, "configuration is null");
        return load(MethodRegistryLoader.class.getClassLoader(), configuration.pluginDirectories());
    }

    /**
     * Loads the methods visible through {@code classPath} (source {@link LoadedMethod#CLASSPATH}) and those in
     * {@code pluginDirectories}, in that order.
     *
     * @param classPath where to look for providers that need no plugin loader; tests pass a loader that sees none
     * @param pluginDirectories plugin directories, searched in order
     */
    public static MethodRegistry load(ClassLoader classPath, List<Path> pluginDirectories) {
        requireNonNull(classPath, "classPath is null");
        requireNonNull(pluginDirectories, "pluginDirectories is null");
        Registration registration = new Registration();
        try {
            registration.register(discover(classPath, LoadedMethod.CLASSPATH));
        }
        catch (PluginFailure failure) {
            registration.problem(LoadedMethod.CLASSPATH, failure.getMessage());
        }
        for (Path directory : pluginDirectories) {
            PluginLayout.scan(directory.toAbsolutePath().normalize(), bundle -> loadPlugin(bundle, registration), registration::problem);
        }
        return registration.registry();
    }

    private static void loadPlugin(PluginBundle bundle, Registration registration) {
        String source = bundle.location().toString();
        Optional<String> invalidJar = findInvalidJar(bundle);
        if (invalidJar.isPresent()) {
            registration.problem(source, invalidJar.get());
            return;
        }
        PluginClassLoader loader = new PluginClassLoader(
                "plugin " + bundle.location().getFileName(), urls(bundle.jars()), PeftMethod.class.getClassLoader());
        List<LoadedMethod> methods;
        try {
            methods = discover(loader, source);
        }
        catch (PluginFailure failure) {
            registration.problem(source, failure.getMessage());
            close(loader);
            return;
        }
        if (methods.isEmpty()) {
            registration.problem(source, format(
                    "Skipped plugin %s: it declares no PeftMethod (no %s in its jars). Annotate the method class with @AutoService(PeftMethod.class) and rebuild the plugin, or remove it.",
                    source, SERVICE_FILE));
            close(loader);
            return;
        }
        if (registration.register(methods) == 0) {
            close(loader);
        }
    }

    private static Optional<String> findInvalidJar(PluginBundle bundle) {
        for (Path jar : bundle.jars()) {
            try {
                // opening reads the central directory: enough to tell a jar from other bytes
                new JarFile(jar.toFile()).close();
            }
            catch (IOException | RuntimeException e) {
                String which = bundle.isLooseJar() ? "the file" : format("its jar %s", jar.getFileName());
                return Optional.of(format(
                        "Skipped plugin %s: %s is not a valid jar file (%s). Replace it with the jar the plugin's build produced, or remove it.",
                        bundle.location(), which, describe(e)));
            }
        }
        return Optional.empty();
    }

    /**
     * Finds, constructs and describes every provider visible through {@code loader}, with {@code loader} as the
     * thread context class loader.
     *
     * @throws PluginFailure naming the step and the cause when anything throws
     */
    @SuppressWarnings("try")
    private static List<LoadedMethod> discover(ClassLoader loader, String source) throws PluginFailure {
        List<LoadedMethod> methods = new ArrayList<>();
        String readingServices = format("reading %s", SERVICE_FILE);
        String step = readingServices;
        try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
            Iterator<ServiceLoader.Provider<PeftMethod>> providers = ServiceLoader.load(PeftMethod.class, loader).stream().iterator();
            while (providers.hasNext()) {
                ServiceLoader.Provider<PeftMethod> provider = providers.next();
                String type = provider.type().getName();
                step = format("creating %s", type);
                PeftMethod method = provider.get();
                step = format("calling %s.descriptor()", type);
                MethodDescriptor descriptor = method.descriptor();
                if (descriptor == null) {
                    throw new PluginFailure(format("Skipped %s: %s.descriptor() returned null. Return a MethodDescriptor, then rebuild the plugin.", where(source), type));
                }
                methods.add(new LoadedMethod(method, descriptor, source, loader));
                step = readingServices;
            }
        }
        catch (PluginFailure failure) {
            throw failure;
        }
        catch (OutOfMemoryError e) {
            throw e;
        }
        catch (Throwable e) {
            String fix = step.equals(readingServices)
                    ? "Rebuild the plugin so that the services file lists only PeftMethod classes it contains (let @AutoService write it), or remove it."
                    : "Fix the plugin (a PeftMethod's constructor and descriptor() must not fail), or remove it.";
            throw new PluginFailure(format("Skipped %s: %s failed with %s. %s", where(source), step, describe(e), fix));
        }
        return methods;
    }

    /** "plugin /path/x.jar" or "methods on the runtime class path". */
    private static String where(String source) {
        return source.equals(LoadedMethod.CLASSPATH) ? "methods on the runtime class path" : "plugin " + source;
    }

    /** "plugin /path/x.jar" or "the runtime class path", after "from". */
    private static String from(String source) {
        return source.equals(LoadedMethod.CLASSPATH) ? "the runtime class path" : "plugin " + source;
    }

    /** One line for {@code failure}: the class and message of the cause that matters, unwrapping reflection and service errors. */
    static String describe(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof ServiceConfigurationError || cause instanceof InvocationTargetException || cause instanceof UncheckedIOException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        String message = cause.getMessage();
        String text = message == null || message.isBlank() ? cause.getClass().getName() : cause.getClass().getName() + ": " + message;
        if ((message == null || message.isBlank()) && cause.getCause() != null) {
            text = text + " caused by " + describe(cause.getCause());
        }
        return text.replaceAll("\\s*\\R\\s*", " ").strip();
    }

    private static List<URL> urls(List<Path> jars) {
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            try {
                urls.add(jar.toUri().toURL());
            }
            catch (MalformedURLException e) {
                throw new IllegalArgumentException(format("plugin jar path %s cannot be made a URL", jar), e);
            }
        }
        return List.copyOf(urls);
    }

    private static void close(PluginClassLoader loader) {
        try {
            loader.close();
        }
        catch (IOException e) {
            // the jars stay open until the loader is collected; nothing else depends on it
        }
    }

    /** Why a whole plugin is skipped; the message is the problem line. */
    private static final class PluginFailure extends Exception {
        private static final long serialVersionUID = 1L;

        PluginFailure(String message) {
            super(message, null, false, false);
        }
    }

    /** Collects methods (first id wins) and problems while loading. */
    private static final class Registration {
        private final Map<String, LoadedMethod> methods = new LinkedHashMap<>();
        private final List<PluginProblem> problems = new ArrayList<>();

        void problem(PluginProblem problem) {
            problems.add(problem);
        }

        void problem(String source, String message) {
            problems.add(new PluginProblem(source, message));
        }

        /** Registers the methods that pass the checks; returns how many did. */
        int register(List<LoadedMethod> candidates) {
            int registered = 0;
            for (LoadedMethod candidate : candidates) {
                Optional<String> rejection = rejection(candidate);
                if (rejection.isPresent()) {
                    problem(candidate.source(), rejection.get());
                }
                else {
                    methods.put(candidate.id(), candidate);
                    registered++;
                }
            }
            return registered;
        }

        private Optional<String> rejection(LoadedMethod candidate) {
            String spiVersion = candidate.descriptor().spiVersion();
            String method = format("Skipped method '%s' from %s", candidate.id(), from(candidate.source()));
            boolean compatible;
            try {
                compatible = SpiVersion.isCompatible(spiVersion, SpiVersion.CURRENT);
            }
            catch (IllegalArgumentException e) {
                return Optional.of(format(
                        "%s: its descriptor reports SPI version '%s', which is not of the form major.minor. Pass the inherited SPI_VERSION (SpiVersion.CURRENT) to setSpiVersion and rebuild the plugin.",
                        method, spiVersion));
            }
            if (!compatible) {
                return Optional.of(format(
                        "%s: it was built against Graft SPI %s, which this runtime (SPI %s) cannot run. Rebuild the plugin against graft-spi %s, or use a Graft release whose SPI matches.",
                        method, spiVersion, SpiVersion.CURRENT, SpiVersion.CURRENT));
            }
            LoadedMethod taken = methods.get(candidate.id());
            if (taken != null) {
                return Optional.of(format(
                        "%s: the id '%s' is already taken by the method from %s. Remove one of the two plugins.",
                        method, candidate.id(), from(taken.source())));
            }
            return Optional.empty();
        }

        MethodRegistry registry() {
            return new MethodRegistry(List.copyOf(methods.values()), problems);
        }
    }
}
