package dev.graft.runtime.data;

import static java.lang.String.format;

import java.nio.file.Path;
import java.util.Locale;

/** How a data file is written: JSON lines or CSV with a header row; {@link #AUTO} decides by the file's extension. */
public enum DataFormat {
    AUTO, JSONL, CSV;

    /** The format of {@code file}: this one, or for {@link #AUTO} by extension ({@code .jsonl .ndjson .json} → JSONL, {@code .csv .tsv} → CSV). */
    public DataFormat of(Path file) {
        if (this != AUTO) {
            return this;
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) {
            return JSONL;
        }
        if (name.endsWith(".csv") || name.endsWith(".tsv")) {
            return CSV;
        }
        throw new DataException(format("%s: cannot tell the format from the extension; name it .jsonl or .csv, or set data.format to jsonl or csv", file));
    }
}
