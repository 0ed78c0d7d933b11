package dev.graft.runtime.plugin;

import static java.lang.String.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Reads a plugin directory: every sub-folder is one plugin (all jars directly in it form its class path) and
 * every {@code *.jar} lying directly in the directory is one plugin. Other files and hidden entries are ignored.
 */
final class PluginLayout {
    private static final String JAR_SUFFIX = ".jar";

    private PluginLayout() {}

    /**
     * Hands the plugins in {@code directory} to {@code plugins} in file-name order. A missing or unreadable
     * directory, and a folder that cannot be read or holds no jar, go to {@code problems} at their place in
     * that order instead.
     *
     * @param directory an absolute plugin directory
     */
    static void scan(Path directory, Consumer<PluginBundle> plugins, Consumer<PluginProblem> problems) {
        if (!Files.isDirectory(directory)) {
            problems.accept(new PluginProblem(directory.toString(), format(
                    "Plugin directory %s does not exist or is not a directory. Create it, or fix the configured path.", directory)));
            return;
        }
        List<Path> entries;
        try {
            entries = listSorted(directory);
        }
        catch (IOException | RuntimeException e) {
            problems.accept(new PluginProblem(directory.toString(), format(
                    "Plugin directory %s cannot be read (%s). Check that you may list it.", directory, MethodRegistryLoader.describe(e))));
            return;
        }
        for (Path entry : entries) {
            if (Files.isDirectory(entry)) {
                scanFolder(entry, plugins, problems);
            }
            else if (isJar(entry)) {
                plugins.accept(new PluginBundle(entry, List.of(entry)));
            }
        }
    }

    private static void scanFolder(Path folder, Consumer<PluginBundle> plugins, Consumer<PluginProblem> problems) {
        List<Path> jars;
        try {
            jars = listSorted(folder).stream().filter(PluginLayout::isJar).collect(Collectors.toList());
        }
        catch (IOException | RuntimeException e) {
            problems.accept(new PluginProblem(folder.toString(), format(
                    "Skipped plugin %s: the folder cannot be read (%s). Check that you may list it.", folder, MethodRegistryLoader.describe(e))));
            return;
        }
        if (jars.isEmpty()) {
            problems.accept(new PluginProblem(folder.toString(), format(
                    "Skipped plugin %s: the folder contains no jar files. Put the plugin's jars into it, or remove the folder.", folder)));
            return;
        }
        plugins.accept(new PluginBundle(folder, jars));
    }

    private static List<Path> listSorted(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries
                    .filter(entry -> !entry.getFileName().toString().startsWith("."))
                    .sorted(Comparator.comparing(entry -> entry.getFileName().toString()))
                    .collect(Collectors.toList());
        }
    }

    private static boolean isJar(Path path) {
        return Files.isRegularFile(path) && path.getFileName().toString().endsWith(JAR_SUFFIX);
    }
}
