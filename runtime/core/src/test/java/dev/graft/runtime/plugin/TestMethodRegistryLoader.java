package dev.graft.runtime.plugin;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.Injector;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plugin layouts and failures that need no compiled plugin; compiled plugins are tested in integration-tests. */
final class TestMethodRegistryLoader {
    private static final ClassLoader NO_CLASS_PATH_METHODS = ClassLoader.getPlatformClassLoader();

    @TempDir
    Path plugins;

    @Test
    void testEmptyDirectoryLoadsNothingAndReportsNothing() {
        MethodRegistry registry = load();

        assertThat(registry.methods()).isEmpty();
        assertThat(registry.problems()).isEmpty();
    }

    @Test
    void testMissingDirectory() {
        Path missing = plugins.resolve("missing");

        MethodRegistry registry = MethodRegistryLoader.load(NO_CLASS_PATH_METHODS, List.of(missing));

        assertThat(messages(registry)).containsExactly(
                "Plugin directory " + missing + " does not exist or is not a directory. Create it, or fix the configured path.");
    }

    @Test
    void testCorruptLooseJar() throws IOException {
        Path broken = JarFixtures.notAJar(plugins.resolve("broken.jar"));

        assertThat(messages(load())).containsExactly("Skipped plugin " + broken
                + ": the file is not a valid jar file (java.util.zip.ZipException: zip END header not found)."
                + " Replace it with the jar the plugin's build produced, or remove it.");
    }

    @Test
    void testCorruptJarInPluginFolderNamesTheJar() throws IOException {
        Path folder = plugins.resolve("mixed");
        JarFixtures.jar(folder.resolve("a-good.jar"), Map.of());
        JarFixtures.notAJar(folder.resolve("b-broken.jar"));

        MethodRegistry registry = load();

        assertThat(registry.problems()).hasSize(1);
        assertThat(registry.problems().get(0).source()).isEqualTo(folder.toString());
        assertThat(registry.problems().get(0).message())
                .startsWith("Skipped plugin " + folder + ": its jar b-broken.jar is not a valid jar file (");
    }

    @Test
    void testJarWithoutProvider() throws IOException {
        Path empty = JarFixtures.jar(plugins.resolve("empty.jar"), Map.of("README.txt", new byte[0]));

        assertThat(messages(load())).containsExactly("Skipped plugin " + empty
                + ": it declares no PeftMethod (no META-INF/services/dev.graft.spi.PeftMethod in its jars)."
                + " Annotate the method class with @AutoService(PeftMethod.class) and rebuild the plugin, or remove it.");
    }

    @Test
    void testFolderWithoutJars() throws IOException {
        Path folder = Files.createDirectories(plugins.resolve("nothing-here"));
        Files.writeString(folder.resolve("notes.txt"), "not a jar");

        assertThat(messages(load())).containsExactly("Skipped plugin " + folder
                + ": the folder contains no jar files. Put the plugin's jars into it, or remove the folder.");
    }

    @Test
    void testOtherFilesAndHiddenEntriesAreIgnored() throws IOException {
        Files.writeString(plugins.resolve("README.md"), "plugins go here");
        JarFixtures.notAJar(plugins.resolve(".partial-download.jar"));
        Files.createDirectories(plugins.resolve(".cache"));

        assertThat(load().problems()).isEmpty();
    }

    @Test
    void testProviderThatIsMissing() throws IOException {
        Path jar = JarFixtures.serviceJar(plugins.resolve("missing-class.jar"), "com.example.Missing");

        assertThat(messages(load())).containsExactly("Skipped plugin " + jar
                + ": reading META-INF/services/dev.graft.spi.PeftMethod failed with java.util.ServiceConfigurationError:"
                + " dev.graft.spi.PeftMethod: Provider com.example.Missing not found."
                + " Rebuild the plugin so that the services file lists only PeftMethod classes it contains (let @AutoService write it), or remove it.");
    }

    @Test
    void testProviderThatIsNoPeftMethod() throws IOException {
        Map<String, byte[]> entries = new HashMap<>(JarFixtures.classFile(Injector.class));
        entries.put(JarFixtures.SERVICE_FILE, Injector.class.getName().getBytes(StandardCharsets.UTF_8));
        Path jar = JarFixtures.jar(plugins.resolve("wrong-type.jar"), entries);

        assertThat(messages(load())).containsExactly("Skipped plugin " + jar
                + ": reading META-INF/services/dev.graft.spi.PeftMethod failed with java.util.ServiceConfigurationError:"
                + " dev.graft.spi.PeftMethod: com.google.inject.Injector not a subtype."
                + " Rebuild the plugin so that the services file lists only PeftMethod classes it contains (let @AutoService write it), or remove it.");
    }

    @Test
    void testEachBrokenPluginGivesOneProblemInDirectoryOrder() throws IOException {
        Path first = JarFixtures.notAJar(plugins.resolve("a.jar"));
        Path second = JarFixtures.jar(plugins.resolve("b.jar"), Map.of());
        Path third = Files.createDirectories(plugins.resolve("c"));

        MethodRegistry registry = load();

        assertThat(registry.problems()).extracting(PluginProblem::source)
                .containsExactly(first.toString(), second.toString(), third.toString());
        assertThat(registry.methods()).isEmpty();
    }

    @Test
    void testBrokenClassPathProviderIsReportedAsClassPath() throws IOException {
        Path jar = JarFixtures.serviceJar(plugins.resolve("outside").resolve("classpath.jar"), "com.example.Missing");
        try (URLClassLoader classPath = new URLClassLoader(new URL[] {jar.toUri().toURL()}, NO_CLASS_PATH_METHODS)) {
            MethodRegistry registry = MethodRegistryLoader.load(classPath, List.of());

            assertThat(registry.problems()).singleElement().satisfies(problem -> {
                assertThat(problem.source()).isEqualTo(LoadedMethod.CLASSPATH);
                assertThat(problem.message()).startsWith("Skipped methods on the runtime class path: reading META-INF/services/dev.graft.spi.PeftMethod failed with");
            });
        }
    }

    @Test
    void testDescribeUnwrapsAndKeepsOneLine() {
        assertThat(MethodRegistryLoader.describe(new IllegalStateException("first\n   second")))
                .isEqualTo("java.lang.IllegalStateException: first second");
        assertThat(MethodRegistryLoader.describe(new ExceptionInInitializerError(new IllegalArgumentException("bad static"))))
                .isEqualTo("java.lang.ExceptionInInitializerError caused by java.lang.IllegalArgumentException: bad static");
    }

    private MethodRegistry load() {
        return MethodRegistryLoader.load(NO_CLASS_PATH_METHODS, List.of(plugins));
    }

    private static List<String> messages(MethodRegistry registry) {
        return registry.problems().stream().map(PluginProblem::message).collect(Collectors.toList());
    }
}
