package dev.graft.runtime.report;

import dev.graft.runtime.io.AtomicFiles;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** report.md of a run: what was trained, how well it did, the plot and the files it left. */
public final class Report {
    private static final String FENCE = "```";

    private Report() {}

    /**
     * Writes {@code file} atomically: "# title", the summary, "## Parameters" with the parameter table in a fenced
     * block, "## Results" with the metrics table in a fenced block and the plot as {@code ![training](plotFile)},
     * "## Gates" with the mean gate per layer and adapter in a fenced block and its heat map as
     * {@code ![gates](gatePlotFile)}, and "## Files" as a list of {@code [path](path): what}. A section or plot with
     * nothing in it is left out.
     */
    public static void write(Path file, ReportContent content) {
        requireNonNull(file, "file is null");
        requireNonNull(content, "content is null");
        AtomicFiles.write(file, markdown(content).getBytes(UTF_8));
    }

    static String markdown(ReportContent content) {
        StringBuilder text = new StringBuilder();
        text.append("# ").append(content.title()).append("\n");
        if (!content.summary().isBlank()) {
            text.append("\n").append(content.summary().strip()).append("\n");
        }
        if (!content.parameterTable().isEmpty()) {
            text.append("\n## Parameters\n\n");
            block(text, content.parameterTable());
        }
        if (!content.metricsTable().isEmpty() || content.plotFile() != null) {
            text.append("\n## Results\n");
            if (!content.metricsTable().isEmpty()) {
                text.append("\n");
                block(text, content.metricsTable());
            }
            if (content.plotFile() != null) {
                text.append("\n![training](").append(destination(content.plotFile())).append(")\n");
            }
        }
        if (!content.gateTable().isEmpty() || content.gatePlotFile() != null) {
            text.append("\n## Gates\n\nThe mean gate value per layer and adapter on the evaluated data (0: the adapter is shut, 1: fully open).\n");
            if (!content.gateTable().isEmpty()) {
                text.append("\n");
                block(text, content.gateTable());
            }
            if (content.gatePlotFile() != null) {
                text.append("\n![gates](").append(destination(content.gatePlotFile())).append(")\n");
            }
        }
        if (!content.files().isEmpty()) {
            text.append("\n## Files\n\n");
            for (Map.Entry<String, String> entry : content.files().entrySet()) {
                text.append("- [").append(entry.getKey()).append("](").append(destination(entry.getKey())).append("): ").append(entry.getValue()).append("\n");
            }
        }
        return text.toString();
    }

    private static void block(StringBuilder text, List<String> lines) {
        text.append(FENCE).append("\n");
        lines.forEach(line -> text.append(line).append("\n"));
        text.append(FENCE).append("\n");
    }

    /** A link destination: in angle brackets when the path holds a space or a parenthesis, which would end it early. */
    private static String destination(String path) {
        return path.matches(".*[\\s()<>].*") ? "<" + path.replace("<", "%3C").replace(">", "%3E") + ">" : path;
    }
}
