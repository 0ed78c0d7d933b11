package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.List;

/**
 * One plugin found in a plugin directory: a loose jar, or a folder whose jars form the plugin's class path.
 *
 * @param location the jar or the folder, absolute
 * @param jars the plugin's class path, in file-name order
 */
record PluginBundle(Path location, List<Path> jars) {
    PluginBundle {
        requireNonNull(location, "location is null");
        jars = List.copyOf(requireNonNull(jars, "jars is null"));
    }

    /** Whether the plugin is a single jar lying directly in the plugin directory. */
    boolean isLooseJar() {
        return jars.size() == 1 && jars.get(0).equals(location);
    }
}
