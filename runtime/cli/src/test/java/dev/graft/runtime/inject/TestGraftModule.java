package dev.graft.runtime.inject;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.Guice;
import com.google.inject.Injector;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.PluginConfiguration;
import dev.graft.runtime.plugin.PluginProblem;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestGraftModule {
    @TempDir
    Path folder;

    @Test
    void testRegistryIsASingletonLoadedFromTheConfiguredDirectories() {
        Path missing = folder.resolve("missing");
        Injector injector = Guice.createInjector(new GraftModule(new PluginConfiguration(List.of(folder, missing))));

        MethodRegistry registry = injector.getInstance(MethodRegistry.class);

        assertThat(injector.getInstance(MethodRegistry.class)).isSameAs(registry);
        assertThat(injector.getInstance(PluginConfiguration.class).pluginDirectories()).containsExactly(folder, missing);
        assertThat(registry.problems()).extracting(PluginProblem::source).containsExactly(missing.toString());
    }
}
