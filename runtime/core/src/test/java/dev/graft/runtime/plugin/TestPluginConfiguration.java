package dev.graft.runtime.plugin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

final class TestPluginConfiguration {
    @Test
    void testDistributionFolderComesFirst() {
        PluginConfiguration configuration = PluginConfiguration.of(Optional.of(Path.of("/opt/graft")), List.of(Path.of("/work/extra")));

        assertThat(configuration.pluginDirectories()).containsExactly(Path.of("/opt/graft/plugins"), Path.of("/work/extra"));
    }

    @Test
    void testDirectoriesAreAbsoluteNormalisedAndUnique() {
        PluginConfiguration configuration = PluginConfiguration.of(
                Optional.of(Path.of("/opt/graft")),
                List.of(Path.of("/opt/graft/bin/../plugins"), Path.of("relative")));

        assertThat(configuration.pluginDirectories())
                .containsExactly(Path.of("/opt/graft/plugins"), Path.of("relative").toAbsolutePath().normalize());
    }

    @Test
    void testNoHomeMeansOnlyGivenDirectories() {
        assertThat(PluginConfiguration.of(Optional.empty(), List.of()).pluginDirectories()).isEmpty();
    }
}
