package dev.graft.runtime.data;

import static java.lang.String.format;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the data readers: the first byte picks the file kind (JSON lines, CSV, TSV), the rest is the file. Any bytes
 * either read into examples whose fields are all strings, or fail with a {@link DataException} naming the file and line;
 * no other exception, no hang. Seeds and crashers live in {@code TestDataFilesFuzzingInputs/read}; {@code mvn verify}
 * replays them and then fuzzes for {@code graft.fuzz.duration}.
 */
final class TestDataFilesFuzzing {
    private static final Path FOLDER = scratchFolder();
    private static final List<Path> FILES = List.of(FOLDER.resolve("data.jsonl"), FOLDER.resolve("data.csv"), FOLDER.resolve("data.tsv"));

    @FuzzTest(maxDuration = "10s")
    @Timeout(10)
    void read(byte[] bytes) throws IOException {
        if (bytes.length == 0) {
            return;
        }
        Path file = FILES.get(Math.floorMod(bytes[0], FILES.size()));
        Files.write(file, Arrays.copyOfRange(bytes, 1, bytes.length));
        List<Example> examples;
        try {
            examples = DataFiles.read(file, DataFormat.AUTO);
        }
        catch (DataException expected) {
            return;
        }
        for (Example example : examples) {
            if (example.source().line() < 1) {
                throw new AssertionError(format("%s: an example without a line number", example.source()));
            }
            example.fields().forEach((name, value) -> {
                if (name == null || value == null) {
                    throw new AssertionError(format("%s: a null field name or value", example.source()));
                }
            });
            try {
                example.require("text", "set data.text_field");
            }
            catch (DataException expected) {
                // A missing field: one line naming the file, the line and the fields it has.
            }
        }
    }

    private static Path scratchFolder() {
        try {
            return Files.createTempDirectory("graft-fuzz");
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
