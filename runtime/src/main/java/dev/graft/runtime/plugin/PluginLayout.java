package dev.graft.runtime.plugin;

import static java.lang.String.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
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
     * The plugins in {@code directory}, by file name.
     *
     * @param directory an absolute plugin directory
     * @param problems receives one problem for a missing or unreadable directory and for a folder without jars
     */
    static List<PluginBundle> scan(Path directory, Consumer<PluginProblem> problems) {
        String source = directory.toString();
        if (!Files.isDirectory(directory)) {
            problems.accept(new PluginProblem(source, format(
                    "Plugin directory %s does not exist or is not a directory. Create it, or fix the configured path.", directory)));
            return List.of();
        }
        List<Path> entries;
        try {
            entries = listSorted(directory);
        }
        catch (IOException | RuntimeException e) {
            problems.accept(new PluginProblem(source, format(
                    "Plugin directory %s cannot be read (%s). Check that you may list it.", directory, MethodRegistryLoader.describe(e))));
            return List.of();
        }
        List<PluginBundle> bundles = new ArrayList<>();
        for (Path entry : entries) {
            if (Files.isDirectory(entry)) {
                folderPlugin(entry, problems).ifPresent(bundles::add);
            }
            else if (isJar(entry)) {
                bundles.add(new PluginBundle(entry, List.of(entry)));
            }
        }
        return List.copyOf(bundles);
    }

    private static Optional<PluginBundle> folderPlugin(Path folder, Consumer<PluginProblem> problems) {
        List<Path> jars;
        try {
            jars = listSorted(folder).stream().filter(PluginLayout::isJar).collect(Collectors.toList());
        }
        catch (IOException | RuntimeException e) {
            problems.accept(new PluginProblem(folder.toString(), format(
                    "Skipped plugin %s: the folder cannot be read (%s). Check that you may list it.", folder, MethodRegistryLoader.describe(e))));
            return Optional.empty();
        }
        if (jars.isEmpty()) {
            problems.accept(new PluginProblem(folder.toString(), format(
                    "Skipped plugin %s: the folder contains no jar files. Put the plugin's jars into it, or remove the folder.", folder)));
            return Optional.empty();
        }
        return Optional.of(new PluginBundle(folder, jars));
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
