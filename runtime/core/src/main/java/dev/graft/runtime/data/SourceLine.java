package dev.graft.runtime.data;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * Where an example came from.
 *
 * @param file the file, as given
 * @param line the 1-based line number where the example starts
 */
public record SourceLine(Path file, long line) {
    public SourceLine {
        requireNonNull(file, "file is null");
    }

    /** {@code train.jsonl line 17}. */
    @Override
    public String toString() {
        return file + " line " + line;
    }
}
