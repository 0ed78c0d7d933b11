package dev.graft.runtime.io;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.error.IoErrors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes a whole file so that readers see the old content or the new one, never half of it. */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes {@code content} to a temporary file in the folder of {@code file} (created if absent), then moves it over {@code file}. */
    public static void write(Path file, byte[] content) {
        requireNonNull(file, "file is null");
        requireNonNull(content, "content is null");
        Path folder = file.toAbsolutePath().getParent();
        Path temporary = null;
        try {
            Files.createDirectories(folder);
            temporary = Files.createTempFile(folder, "." + file.getFileName(), ".tmp");
            Files.write(temporary, content);
            try {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot write %s: %s", file, IoErrors.describe(e)), e);
        }
        finally {
            if (temporary != null) {
                try {
                    Files.deleteIfExists(temporary);
                }
                catch (IOException e) {
                    // The temporary file is a hidden leftover at worst; the write itself succeeded or already failed.
                }
            }
        }
    }

    /** Writes {@code text} as UTF-8, atomically as {@link #write(Path, byte[])} does. */
    public static void write(Path file, String text) {
        requireNonNull(text, "text is null");
        write(file, text.getBytes(StandardCharsets.UTF_8));
    }
}
