package dev.graft.runtime.cli;

import static java.lang.String.format;

import dev.graft.runtime.plugin.TrustedPlugins;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The plugin options, as a picocli mixin: {@code --plugins DIR}, {@code --trusted-plugins FILE} and
 * {@code --strict}. A subcommand that uses methods declares {@code @Mixin PluginOptions pluginOptions;} and
 * {@link GraftMain} adds the directories to the runtime's plugin configuration, after the distribution's own
 * {@code plugins/} folder, loads only trusted jars when a list is given, and with {@code --strict} refuses to run
 * when any plugin had a problem.
 */
public final class PluginOptions {
    @Option(
            names = "--plugins",
            paramLabel = "DIR",
            converter = ExistingDirectory.class,
            description = "Also load plugins from DIR: each sub-folder (its jars) or loose *.jar is one plugin. Repeatable.")
    private List<Path> pluginDirectories = new ArrayList<>();

    @Option(
            names = "--trusted-plugins",
            paramLabel = "FILE",
            converter = TrustedPluginsFile.class,
            description = "Load only the plugin jars whose SHA-256 sum FILE lists (sha256sum format: write it with 'sha256sum plugins/*/*.jar'); every other jar is refused with the sum found.")
    private TrustedPlugins trustedPlugins;

    @Option(
            names = "--strict",
            description = "Make any plugin problem (a plugin that was skipped) fatal: exit with code 1 instead of going on with the plugins that loaded.")
    private boolean strict;

    /** The directories given with {@code --plugins}, in order. */
    public List<Path> pluginDirectories() {
        return List.copyOf(pluginDirectories);
    }

    /** The list given with {@code --trusted-plugins}, if any. */
    public Optional<TrustedPlugins> trustedPlugins() {
        return Optional.ofNullable(trustedPlugins);
    }

    /** Whether {@code --strict} was given. */
    public boolean strict() {
        return strict;
    }

    /** Reads a trusted plugin list; a missing or malformed file is bad input. */
    static final class TrustedPluginsFile implements ITypeConverter<TrustedPlugins> {
        @Override
        public TrustedPlugins convert(String value) {
            try {
                return TrustedPlugins.read(Path.of(value));
            }
            catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
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
