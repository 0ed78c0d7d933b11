package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.error.IoErrors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Checks an {@code --output} before any work, so that a destination that cannot be written fails at once with words
 * ({@code permission denied}, {@code is a folder}) instead of a JDK exception after the whole computation. A missing
 * parent folder is created, and the command says so on standard error.
 */
final class OutputTarget {
    private OutputTarget() {}

    /** Checks that {@code file} can be written as a file: not a folder, its folder present (or created) and writable. */
    static void checkFile(CommandSpec spec, Path file) {
        requireNonNull(spec, "spec is null");
        requireNonNull(file, "file is null");
        if (Files.isDirectory(file)) {
            throw new ParameterException(spec.commandLine(), format("--output %s is a folder; name a file in it, e.g. %s", file, file.resolve(exampleName(spec))));
        }
        checkFolderWritable(spec, file, file.toAbsolutePath().normalize().getParent());
    }

    /** Checks that {@code folder} can be created (or filled) as an output folder: not a file, its parent present (or created) and writable. */
    static void checkFolder(CommandSpec spec, Path folder) {
        requireNonNull(spec, "spec is null");
        requireNonNull(folder, "folder is null");
        if (Files.exists(folder) && !Files.isDirectory(folder)) {
            throw new ParameterException(spec.commandLine(), format("--output %s is a file; name a new or empty folder", folder));
        }
        Path absolute = folder.toAbsolutePath().normalize();
        checkFolderWritable(spec, folder, Files.isDirectory(absolute) ? absolute : absolute.getParent());
    }

    private static void checkFolderWritable(CommandSpec spec, Path output, Path folder) {
        if (folder == null) {
            return;
        }
        if (Files.exists(folder) && !Files.isDirectory(folder)) {
            throw new ParameterException(spec.commandLine(), format("cannot write --output %s: %s is a file, not a folder", output, folder));
        }
        try {
            if (!Files.exists(folder)) {
                Files.createDirectories(folder);
                spec.commandLine().getErr().println(format("%s: created folder %s for --output", spec.qualifiedName(), folder));
            }
            Path probe = Files.createTempFile(folder, ".graft-write-check", ".tmp");
            Files.delete(probe);
        }
        catch (IOException e) {
            throw new ParameterException(spec.commandLine(), format("cannot write --output %s: %s in %s; choose a folder you can write to, or fix its permissions",
                    output, IoErrors.describe(e), folder));
        }
    }

    private static String exampleName(CommandSpec spec) {
        return "predict".equals(spec.name()) ? "predictions.jsonl" : "outputs.safetensors";
    }
}
