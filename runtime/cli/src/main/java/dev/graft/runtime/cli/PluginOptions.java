package dev.graft.runtime.cli;

import static java.lang.String.format;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The {@code --plugins DIR} option, as a picocli mixin. A subcommand that uses methods declares
 * {@code @Mixin PluginOptions pluginOptions;} and {@link GraftMain} adds the directories to the runtime's
 * plugin configuration, after the distribution's own {@code plugins/} folder.
 */
public final class PluginOptions {
    @Option(
            names = "--plugins",
            paramLabel = "DIR",
            converter = ExistingDirectory.class,
            description = "Also load plugins from DIR: each sub-folder (its jars) or loose *.jar is one plugin. Repeatable.")
    private List<Path> pluginDirectories = new ArrayList<>();

    /** The directories given with {@code --plugins}, in order. */
    public List<Path> pluginDirectories() {
        return List.copyOf(pluginDirectories);
    }

    /** Accepts a path only if it is an existing directory. */
    static final class ExistingDirectory implements ITypeConverter<Path> {
        @Override
        public Path convert(String value) {
            Path directory = Path.of(value);
            if (!Files.isDirectory(directory)) {
                throw new TypeConversionException(format(
                        "plugin directory '%s' does not exist or is not a directory; pass a folder that holds plugin jars or plugin folders",
                        directory.toAbsolutePath().normalize()));
            }
            return directory;
        }
    }
}
