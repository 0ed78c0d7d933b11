package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.plugin.PluginClassLoader;
import dev.graft.runtime.plugin.PluginProblem;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loads plugin jars compiled at test time: good ones load, every broken one gives exactly one problem line. */
final class TestPluginLoading {
    @TempDir
    static Path scratch;

    private static TestPlugins plugins;
    private static MethodRegistry registry;

    @BeforeAll
    static void buildAndLoad() throws IOException {
        plugins = TestPlugins.build(scratch);
        registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins.plugins(), plugins.morePlugins()));
    }

    @Test
    void testGoodPluginsLoadNextToBrokenOnes() {
        assertThat(registry.methods()).extracting(LoadedMethod::id).containsExactly("extra", "folder-method", "probe", "late");
        assertThat(registry.methods()).extracting(LoadedMethod::source).containsExactly(
                plugins.plugins().resolve("extra.jar").toString(),
                plugins.plugins().resolve("folder-method").toString(),
                plugins.plugins().resolve("probe.jar").toString(),
                plugins.morePlugins().resolve("late.jar").toString());
    }

    @Test
    void testEveryBrokenPluginGivesOneLineNamingItAndTheCause() {
        Path directory = plugins.plugins();
        assertThat(registry.problems()).extracting(PluginProblem::source).containsExactly(
                directory.resolve("ancient.jar").toString(),
                directory.resolve("broken.jar").toString(),
                directory.resolve("future.jar").toString(),
                directory.resolve("missing-class.jar").toString(),
                directory.resolve("throws.jar").toString(),
                plugins.morePlugins().resolve("extra-copy.jar").toString());
        assertThat(registry.problems()).extracting(PluginProblem::message).containsExactly(
                "Skipped method 'ancient' from plugin " + directory.resolve("ancient.jar") + ": it was built against Graft SPI 1.0,"
                        + " which this runtime (SPI 2.2) cannot run. Rebuild the plugin against graft-spi 2.2, or use a Graft release whose SPI matches.",
                "Skipped plugin " + directory.resolve("broken.jar") + ": the file is not a valid jar file (java.util.zip.ZipException: zip END header not found)."
                        + " Replace it with the jar the plugin's build produced, or remove it.",
                "Skipped method 'future' from plugin " + directory.resolve("future.jar") + ": it was built against Graft SPI 3.0,"
                        + " which this runtime (SPI 2.2) cannot run. Rebuild the plugin against graft-spi 2.2, or use a Graft release whose SPI matches.",
                "Skipped plugin " + directory.resolve("missing-class.jar") + ": creating com.example.missing.NeedsHelper failed with"
                        + " java.lang.NoClassDefFoundError: com/example/missing/Helper."
                        + " Fix the plugin (a PeftMethod's constructor and descriptor() must not fail), or remove it.",
                "Skipped plugin " + directory.resolve("throws.jar") + ": creating com.example.throwing.ThrowingMethod failed with"
                        + " java.lang.IllegalStateException: this constructor refuses to run."
                        + " Fix the plugin (a PeftMethod's constructor and descriptor() must not fail), or remove it.",
                "Skipped method 'extra' from plugin " + plugins.morePlugins().resolve("extra-copy.jar") + ": the id 'extra' is already taken by"
                        + " the method from plugin " + directory.resolve("extra.jar") + ". Remove one of the two plugins.");
    }

    @Test
    void testPluginSeesOnlyTheJdkTheSpiAndDjlAndRunsWithItsOwnContextLoader() {
        assertThat(registry.requireMethod("probe").descriptor().description()).isEqualTo(TestPlugins.ISOLATED);
    }

    @Test
    void testFolderPluginClassPathSpansItsJars() {
        assertThat(registry.requireMethod("folder-method").descriptor().description()).isEqualTo("described by the library jar");
    }

    @Test
    void testEachPluginHasItsOwnLoader() {
        for (LoadedMethod method : registry.methods()) {
            assertThat(method.classLoader()).isInstanceOf(PluginClassLoader.class);
            assertThat(method.method().getClass().getClassLoader()).isSameAs(method.classLoader());
        }
        assertThat(registry.methods()).extracting(LoadedMethod::classLoader).doesNotHaveDuplicates();
    }

    @Test
    void testPluginRunsDjlThroughTheSharedLayer() throws IOException {
        Path directory = scratch.resolve("djl-plugins");
        PluginJarBuilder.in(scratch.resolve("work"))
                .method(MethodSource.method("com.example.djl.DjlMethod", "djl-probe").withDescription("PytorchSum.sum()"))
                .source("com.example.djl.PytorchSum", TestPlugins.PYTORCH_SUM)
                .build(directory.resolve("djl-probe.jar"));

        MethodRegistry djlRegistry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(directory));

        assertThat(djlRegistry.problems()).isEmpty();
        assertThat(djlRegistry.requireMethod("djl-probe").descriptor().description()).isEqualTo(TestPlugins.PYTORCH_SUM_RESULT);
    }

    @Test
    void testLookupByPeftType() {
        assertThat(registry.methodsForPeftType("EXTRA")).extracting(LoadedMethod::source)
                .containsExactly(plugins.plugins().resolve("extra.jar").toString());
        assertThat(registry.methodsForPeftType("extra")).isEmpty();
    }

    @Test
    void testAutoServiceWroteTheServicesFile() throws IOException {
        assertThat(PluginJarBuilder.entries(plugins.plugins().resolve("extra.jar")))
                .contains("META-INF/services/dev.graft.spi.PeftMethod", "com/example/extra/ExtraMethod.class");
    }
}
