package dev.graft.runtime.report;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What report.md of a run says: its title, a summary (one markdown paragraph), the parameter table and the metrics
 * table as rendered lines, the plot's file name relative to the report (e.g. "training.png", or null when there is
 * no plot) and the run's files, relative path to what the file is, in the order given.
 */
public record ReportContent(String title, String summary, List<String> parameterTable, List<String> metricsTable, String plotFile, Map<String, String> files) {
    /** Checks the content and copies its lists and map; {@code plotFile} may be null. */
    public ReportContent {
        requireNonNull(title, "title is null");
        requireNonNull(summary, "summary is null");
        parameterTable = List.copyOf(requireNonNull(parameterTable, "parameterTable is null"));
        metricsTable = List.copyOf(requireNonNull(metricsTable, "metricsTable is null"));
        files = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(files, "files is null")));
    }
}
