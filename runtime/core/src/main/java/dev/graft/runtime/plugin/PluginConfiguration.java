package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where the runtime looks for plugins besides its own class path.
 *
 * @param pluginDirectories plugin directories, searched in order; stored absolute and normalised, each once
 * @param trustedPlugins when present, only plugin jars with a listed SHA-256 sum load
 */
public record PluginConfiguration(List<Path> pluginDirectories, Optional<TrustedPlugins> trustedPlugins) {
    /** The name of the plugin folder inside a Graft distribution. */
    public static final String DISTRIBUTION_PLUGIN_FOLDER = "plugins";

    public PluginConfiguration {
        requireNonNull(pluginDirectories, "pluginDirectories is null");
        Set<Path> unique = new LinkedHashSet<>();
        for (Path directory : pluginDirectories) {
            unique.add(requireNonNull(directory, "plugin directory is null").toAbsolutePath().normalize());
        }
        pluginDirectories = List.copyOf(unique);
        requireNonNull(trustedPlugins, "trustedPlugins is null");
    }

    /** Plugin directories without a trusted list: every plugin jar may load. */
    public PluginConfiguration(List<Path> pluginDirectories) {
        this(pluginDirectories, Optional.empty());
    }

    /**
     * The distribution's {@code plugins/} folder (when {@code graftHome} is given) followed by
     * {@code additionalDirectories}.
     *
     * @param graftHome the root of the Graft distribution, if known (the launcher passes {@code -Dgraft.home})
     * @param additionalDirectories directories given by the user, such as {@code --plugins DIR}
     */
    public static PluginConfiguration of(Optional<Path> graftHome, List<Path> additionalDirectories) {
        requireNonNull(graftHome, "graftHome is null");
        requireNonNull(additionalDirectories, "additionalDirectories is null");
        List<Path> directories = new ArrayList<>();
        graftHome.ifPresent(home -> directories.add(home.resolve(DISTRIBUTION_PLUGIN_FOLDER)));
        directories.addAll(additionalDirectories);
        return new PluginConfiguration(directories);
    }

    /** This configuration, loading only the plugin jars that {@code trustedPlugins} lists. */
    public PluginConfiguration withTrustedPlugins(TrustedPlugins trustedPlugins) {
        return new PluginConfiguration(pluginDirectories, Optional.of(requireNonNull(trustedPlugins, "trustedPlugins is null")));
    }
}
