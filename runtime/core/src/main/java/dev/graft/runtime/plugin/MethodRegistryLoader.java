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
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * Builds a {@link MethodRegistry}: finds {@link PeftMethod} providers on the runtime's class path and in
 * plugin directories, each plugin in its own {@link PluginClassLoader}, and checks them.
 *
 * <p>A plugin is skipped, with one {@link PluginProblem}, when a trusted list is configured and one of its jars
 * is not on it, when one of its jars is not a valid jar, when it bundles its own copy of a shared package (the SPI,
 * DJL), or when it declares no provider. A provider is skipped, with one problem each, when finding, constructing or
 * describing it throws anything (linkage errors and service configuration errors included); the plugin's other
 * providers still load. A single method is skipped when it was built against an incompatible SPI version or when
 * its id is already taken (the first one loaded wins). Everything else loads.
 */
public final class MethodRegistryLoader {
    private static final String SERVICE_FILE = "META-INF/services/" + PeftMethod.class.getName();
    /** Past this many failed providers in one plugin, the rest of it is not tried. */
    private static final int MAXIMUM_FAILURES = 64;

    private MethodRegistryLoader() {}

    /** Loads the methods on the runtime's class path and in the configured plugin directories. */
    public static MethodRegistry load(PluginConfiguration configuration) {
        requireNonNull(configuration, "configuration is null");
        return load(MethodRegistryLoader.class.getClassLoader(), configuration.pluginDirectories(), configuration.trustedPlugins());
    }

    /**
     * Loads the methods visible through {@code classPath} (source {@link LoadedMethod#CLASSPATH}) and those in
     * {@code pluginDirectories}, in that order.
     *
     * @param classPath where to look for providers that need no plugin loader; tests pass a loader that sees none
     * @param pluginDirectories plugin directories, searched in order
     */
    public static MethodRegistry load(ClassLoader classPath, List<Path> pluginDirectories) {
        return load(classPath, pluginDirectories, Optional.empty());
    }

    /**
     * Loads the methods visible through {@code classPath} (source {@link LoadedMethod#CLASSPATH}) and those in
     * {@code pluginDirectories}, in that order; with {@code trustedPlugins}, a plugin any of whose jars has a sum
     * not in the list is refused before it is opened. The class path is the runtime's own and is not checked.
     *
     * @param classPath where to look for providers that need no plugin loader; tests pass a loader that sees none
     * @param pluginDirectories plugin directories, searched in order
     * @param trustedPlugins the SHA-256 sums of the plugin jars that may load, if restricted
     */
    public static MethodRegistry load(ClassLoader classPath, List<Path> pluginDirectories, Optional<TrustedPlugins> trustedPlugins) {
        requireNonNull(classPath, "classPath is null");
        requireNonNull(pluginDirectories, "pluginDirectories is null");
        requireNonNull(trustedPlugins, "trustedPlugins is null");
        Registration registration = new Registration();
        Discovery classPathMethods = discover(classPath, LoadedMethod.CLASSPATH);
        registration.register(classPathMethods.methods());
        classPathMethods.failures().forEach(failure -> registration.problem(LoadedMethod.CLASSPATH, failure));
        for (Path directory : pluginDirectories) {
            PluginLayout.scan(directory.toAbsolutePath().normalize(), bundle -> loadPlugin(bundle, trustedPlugins, registration), registration::problem);
        }
        return registration.registry();
    }

    private static void loadPlugin(PluginBundle bundle, Optional<TrustedPlugins> trustedPlugins, Registration registration) {
        String source = bundle.location().toString();
        Optional<String> refused = trustedPlugins.flatMap(trusted -> findUntrustedJar(bundle, trusted))
                .or(() -> findInvalidJar(bundle))
                .or(() -> findBundledSharedClass(bundle));
        if (refused.isPresent()) {
            registration.problem(source, refused.get());
            return;
        }
        PluginClassLoader loader = new PluginClassLoader(
                PluginClassLoader.NAME_PREFIX + bundle.location(), urls(bundle.jars()), PeftMethod.class.getClassLoader());
        Discovery discovery = discover(loader, source);
        discovery.failures().forEach(failure -> registration.problem(source, failure));
        if (discovery.methods().isEmpty() && discovery.failures().isEmpty()) {
            registration.problem(source, format(
                    "Skipped plugin %s: it declares no PeftMethod (no %s in its jars). Annotate the method class with @AutoService(PeftMethod.class) and rebuild the plugin, or remove it.",
                    source, SERVICE_FILE));
        }
        if (registration.register(discovery.methods()) == 0) {
            close(loader);
        }
    }

    private static Optional<String> findUntrustedJar(PluginBundle bundle, TrustedPlugins trusted) {
        for (Path jar : bundle.jars()) {
            String which = bundle.isLooseJar() ? "the file" : format("its jar %s", jar.getFileName());
            String sum;
            try {
                sum = TrustedPlugins.sha256(jar);
            }
            catch (IOException | RuntimeException e) {
                return Optional.of(format("Skipped plugin %s: %s cannot be read to check it against the trusted list %s (%s). Check that you may read it, or remove it.",
                        bundle.location(), which, trusted.file(), describe(e)));
            }
            if (!trusted.trusts(sum)) {
                return Optional.of(format(
                        "Skipped plugin %s: %s has SHA-256 %s, which is not in the trusted list %s. If you trust it, add the line '%s  %s' to the list; otherwise remove it.",
                        bundle.location(), which, sum, trusted.file(), sum, jar.getFileName()));
            }
        }
        return Optional.empty();
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
     * A jar that bundles classes of the shared packages (the SPI, DJL, the libraries DJL's API exposes) was built
     * with them at compile scope: the runtime's copies win, so the plugin would run against classes other than
     * the ones it bundles and was perhaps built with.
     */
    private static Optional<String> findBundledSharedClass(PluginBundle bundle) {
        for (Path jar : bundle.jars()) {
            Optional<String> bundled;
            try (JarFile file = new JarFile(jar.toFile())) {
                bundled = file.stream()
                        .map(JarEntry::getName)
                        .filter(name -> name.endsWith(".class"))
                        .filter(name -> PluginClassLoader.isSharedClass(className(name)))
                        .findFirst();
            }
            catch (IOException | RuntimeException e) {
                bundled = Optional.empty();
            }
            if (bundled.isPresent()) {
                String className = className(bundled.get());
                String which = bundle.isLooseJar() ? "it" : format("its jar %s", jar.getFileName());
                String library = className.startsWith("dev.graft.spi.") ? "the Graft SPI" : className.startsWith("ai.djl.") ? "DJL" : "a library the runtime shares with plugins";
                return Optional.of(format(
                        "Skipped plugin %s: %s bundles its own copy of %s (%s), which the runtime provides. Declare that dependency with scope provided so that the build leaves it out, then rebuild the plugin.",
                        bundle.location(), which, library, bundled.get()));
            }
        }
        return Optional.empty();
    }

    /** {@code ai/djl/nn/Block.class} or {@code META-INF/versions/11/ai/djl/nn/Block.class} to {@code ai.djl.nn.Block}. */
    private static String className(String entryName) {
        String name = entryName;
        if (name.startsWith("META-INF/versions/")) {
            int afterVersion = name.indexOf('/', "META-INF/versions/".length());
            name = afterVersion < 0 ? name : name.substring(afterVersion + 1);
        }
        return name.substring(0, name.length() - ".class".length()).replace('/', '.');
    }

    /**
     * Finds, constructs and describes every provider visible through {@code loader}, with {@code loader} as the
     * thread context class loader. A provider that fails is one failure line and the others are still tried, so
     * one broken method does not take its plugin's other methods down.
     */
    @SuppressWarnings("try")
    private static Discovery discover(ClassLoader loader, String source) {
        List<LoadedMethod> methods = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        String readingServices = format("reading %s", SERVICE_FILE);
        try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(loader)) {
            Iterator<ServiceLoader.Provider<PeftMethod>> providers = ServiceLoader.load(PeftMethod.class, loader).stream().iterator();
            while (failures.size() < MAXIMUM_FAILURES) {
                ServiceLoader.Provider<PeftMethod> provider;
                try {
                    if (!providers.hasNext()) {
                        break;
                    }
                    provider = providers.next();
                }
                catch (OutOfMemoryError e) {
                    throw e;
                }
                catch (Throwable e) {
                    Failure failure = new Failure(readingServices, e, readingFix(e));
                    if (!failures.isEmpty() && failures.get(failures.size() - 1).equals(failure)) {
                        // the service loader did not move past the broken entry: stop rather than loop
                        break;
                    }
                    failures.add(failure);
                    continue;
                }
                String type = provider.type().getName();
                String step = format("creating %s", type);
                try {
                    PeftMethod method = provider.get();
                    step = format("calling %s.descriptor()", type);
                    MethodDescriptor descriptor = method.descriptor();
                    if (descriptor == null) {
                        failures.add(new Failure(format("%s.descriptor() returned null", type), "Return a MethodDescriptor, then rebuild the plugin."));
                        continue;
                    }
                    methods.add(new LoadedMethod(method, descriptor, source, loader));
                }
                catch (OutOfMemoryError e) {
                    throw e;
                }
                catch (Throwable e) {
                    failures.add(new Failure(step, e, "Fix the plugin (a PeftMethod's constructor and descriptor() must not fail), or remove it."));
                }
            }
        }
        String skipped = methods.isEmpty()
                ? format("Skipped %s", where(source))
                : format("Skipped part of %s (its other methods loaded)", where(source));
        List<String> lines = new ArrayList<>();
        for (Failure failure : failures) {
            lines.add(format("%s: %s", skipped, failure.text()));
        }
        return new Discovery(List.copyOf(methods), List.copyOf(lines));
    }

    /** The fix for a services-file entry the service loader could not turn into a provider. */
    private static String readingFix(Throwable failure) {
        if (failure instanceof ServiceConfigurationError && failure.getCause() instanceof NoSuchMethodException) {
            return "Give the class a public constructor without arguments (the service loader creates providers with it), then rebuild the plugin.";
        }
        return "Rebuild the plugin so that the services file lists only PeftMethod classes it contains (let @AutoService write it), or remove it.";
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

    /** What one discovery found: the methods, and one problem line per provider that failed. */
    private record Discovery(List<LoadedMethod> methods, List<String> failures) {}

    /** One failed provider: the step, what went wrong, and the fix. */
    private record Failure(String text) {
        Failure(String step, Throwable cause, String fix) {
            this(format("%s failed with %s. %s", step, describe(cause), fix));
        }

        Failure(String what, String fix) {
            this(format("%s. %s", what, fix));
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
