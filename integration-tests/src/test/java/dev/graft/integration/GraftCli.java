package dev.graft.integration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.cli.GraftMain;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** {@code graft} run in process on the built distribution's plugin folder, as the integration tests use it. */
final class GraftCli {
    /** The distribution the build lays out ({@code -Dgraft.distribution} overrides it). */
    static final Path DISTRIBUTION = Path.of(System.getProperty("graft.distribution", "../runtime/distribution/target/graft")).toAbsolutePath().normalize();

    private static final ObjectMapper JSON = new ObjectMapper();

    private GraftCli() {}

    /** What one command returned and printed. */
    record Result(int exitCode, String out, String err) {}

    /** Runs {@code graft args} with the distribution's plugins and captures both outputs. */
    static Result graft(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = GraftMain.run(List.of(args), Optional.of(DISTRIBUTION), new PrintWriter(out), new PrintWriter(err));
        return new Result(exitCode, out.toString(), err.toString());
    }

    /** The JSON objects of a JSON-lines file, blank lines skipped. */
    static List<JsonNode> jsonLines(Path file) throws IOException {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                lines.add(JSON.readTree(line));
            }
        }
        return lines;
    }
}
