package dev.graft.runtime.report;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What report.md of a run says: its title, a summary (one markdown paragraph), the parameter table and the metrics
 * table as rendered lines, the plot's file name relative to the report (e.g. "training.png", or null when there is
 * no plot), the run's files, relative path to what the file is, in the order given, and the mean gate per layer and
 * adapter as rendered lines with its heat map's file name (empty and null when nothing is gated).
 */
public record ReportContent(String title, String summary, List<String> parameterTable, List<String> metricsTable, String plotFile, Map<String, String> files,
        List<String> gateTable, String gatePlotFile) {
    /** Checks the content and copies its lists and map; {@code plotFile} and {@code gatePlotFile} may be null. */
    public ReportContent {
        gateTable = List.copyOf(requireNonNull(gateTable, "gateTable is null"));
        requireNonNull(title, "title is null");
        requireNonNull(summary, "summary is null");
        parameterTable = List.copyOf(requireNonNull(parameterTable, "parameterTable is null"));
        metricsTable = List.copyOf(requireNonNull(metricsTable, "metricsTable is null"));
        files = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(files, "files is null")));
    }

    /** Content without gates. */
    public ReportContent(String title, String summary, List<String> parameterTable, List<String> metricsTable, String plotFile, Map<String, String> files) {
        this(title, summary, parameterTable, metricsTable, plotFile, files, List.of(), null);
    }
}
