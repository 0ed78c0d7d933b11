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

    /**
     * {@code bin/graft args} as a child process, with this JVM's Java and the build's PyTorch cache (set by surefire;
     * {@code djlCache} when it is not set), without the user's {@code GRAFT_OPTS}.
     */
    static ProcessBuilder launcher(Path djlCache, String... args) {
        List<String> command = new ArrayList<>(List.of(DISTRIBUTION.resolve("bin/graft").toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("DJL_CACHE_DIR", Optional.ofNullable(System.getenv("DJL_CACHE_DIR")).orElse(djlCache.toString()));
        builder.environment().remove("GRAFT_OPTS");
        return builder;
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
