package dev.graft.runtime.plugin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import com.google.inject.Injector;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestPluginClassLoader {
    @TempDir
    Path folder;

    @Test
    void testSharedClassesComeFromTheRuntime() throws Exception {
        try (PluginClassLoader loader = emptyLoader()) {
            assertThat(loader.loadClass(PeftMethod.class.getName())).isSameAs(PeftMethod.class);
            assertThat(loader.loadClass(NDArray.class.getName())).isSameAs(NDArray.class);
        }
    }

    @Test
    void testApplicationClassPathIsInvisible() throws Exception {
        try (PluginClassLoader loader = emptyLoader()) {
            assertThatThrownBy(() -> loader.loadClass(Injector.class.getName())).isInstanceOf(ClassNotFoundException.class);
            assertThatThrownBy(() -> loader.loadClass(MethodRegistry.class.getName())).isInstanceOf(ClassNotFoundException.class);
            assertThat(loader.getResource("com/google/inject/Injector.class")).isNull();
            assertThat(Collections.list(loader.getResources("META-INF/MANIFEST.MF"))).isEmpty();
        }
    }

    @Test
    void testJdkIsVisible() throws Exception {
        try (PluginClassLoader loader = emptyLoader()) {
            assertThat(loader.loadClass("java.lang.String")).isSameAs(String.class);
            assertThat(loader.loadClass("java.sql.Connection")).isSameAs(java.sql.Connection.class);
        }
    }

    @Test
    void testPluginClassesAreLoadedChildFirstFromItsJars() throws Exception {
        Path jar = JarFixtures.jar(folder.resolve("bundles-guice.jar"), JarFixtures.classFile(Injector.class));

        try (PluginClassLoader loader = new PluginClassLoader("test", List.of(jar.toUri().toURL()), getClass().getClassLoader())) {
            Class<?> pluginInjector = loader.loadClass(Injector.class.getName());

            assertThat(pluginInjector).isNotSameAs(Injector.class);
            assertThat(pluginInjector.getClassLoader()).isSameAs(loader);
        }
    }

    @Test
    void testSharedResourcesCannotBeShadowed() throws Exception {
        Path jar = JarFixtures.jar(folder.resolve("shadows.jar"), Map.of(
                "ai/djl/shadow.txt", "plugin".getBytes(StandardCharsets.UTF_8),
                "own/resource.txt", "plugin".getBytes(StandardCharsets.UTF_8)));

        try (PluginClassLoader loader = new PluginClassLoader("test", List.of(jar.toUri().toURL()), getClass().getClassLoader())) {
            assertThat(loader.getResource("ai/djl/shadow.txt")).isNull();
            assertThat(loader.getResource("own/resource.txt")).isNotNull();
            assertThat(Collections.list(loader.getResources("own/resource.txt"))).hasSize(1);
        }
    }

    @Test
    void testDjlEngineResourcesAreSeenThroughThePluginLoader() throws Exception {
        try (PluginClassLoader loader = emptyLoader()) {
            assertThat(Collections.list(loader.getResources("META-INF/services/ai.djl.engine.EngineProvider"))).isNotEmpty();
            assertThat(loader.getResource("pytorch-engine.properties")).isNotNull();
            assertThat(Collections.list(loader.getResources("native/lib/pytorch.properties"))).isNotEmpty();
            assertThat(loader.getResource("jnilib/pytorch.properties")).isNotNull();
        }
    }

    /**
     * DJL unpacks libtorch on first use, with the context class loader, from the resources named in
     * {@code native/lib/pytorch.properties}; plugin code may be the first to use the engine.
     */
    @Test
    void testPytorchNativesCanBeUnpackedThroughThePluginLoader() throws Exception {
        try (PluginClassLoader loader = emptyLoader()) {
            Properties platform = new Properties();
            try (InputStream input = loader.getResource("native/lib/pytorch.properties").openStream()) {
                platform.load(input);
            }
            String folder = String.format("pytorch/%s/%s/", platform.getProperty("flavor"), platform.getProperty("classifier"));
            List<String> libraries = List.of(platform.getProperty("libraries").split(","));

            assertThat(libraries).isNotEmpty();
            for (String library : libraries) {
                assertThat(loader.getResource(folder + library)).as(folder + library).isNotNull();
            }
            assertThat(loader.getResource(String.format("jnilib/%s/%s/libdjl_torch.so", platform.getProperty("classifier"), platform.getProperty("flavor"))))
                    .isNotNull();
        }
    }

    @Test
    void testSharedPrefixes() {
        assertThat(PluginClassLoader.isSharedClass("dev.graft.spi.PeftMethod")).isTrue();
        assertThat(PluginClassLoader.isSharedClass("ai.djl.nn.Block")).isTrue();
        assertThat(PluginClassLoader.isSharedClass("dev.graft.runtime.plugin.MethodRegistry")).isFalse();
        assertThat(PluginClassLoader.isSharedClass("dev.graft.spiral.Thing")).isFalse();
        assertThat(PluginClassLoader.isSharedResource("native/lib/pytorch.properties")).isTrue();
        assertThat(PluginClassLoader.isSharedResource("/dev/graft/spi/PeftMethod.class")).isTrue();
        assertThat(PluginClassLoader.isSharedResource("pytorch-engine.properties")).isTrue();
        assertThat(PluginClassLoader.isSharedResource("config/my-engine.properties")).isFalse();
        assertThat(PluginClassLoader.isSharedResource(JarFixtures.SERVICE_FILE)).isFalse();
    }

    private PluginClassLoader emptyLoader() throws IOException {
        return new PluginClassLoader("empty", List.of(), getClass().getClassLoader());
    }
}
