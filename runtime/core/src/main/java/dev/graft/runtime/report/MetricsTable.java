package dev.graft.runtime.report;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** The table that compares the final metrics of several runs. */
public final class MetricsTable {
    static final String RUN_COLUMN = "RUN";
    static final String MISSING = "-";

    private MetricsTable() {}

    /**
     * RUN followed by one column per metric name (the union over all runs, in first-seen order), one line per run;
     * values with 4 decimals, right-aligned, and "-" where a run lacks the metric.
     */
    public static List<String> render(List<RunMetrics> runs) {
        requireNonNull(runs, "runs is null");
        Set<String> metrics = new LinkedHashSet<>();
        runs.forEach(run -> metrics.addAll(run.values().keySet()));
        List<String> header = new ArrayList<>();
        header.add(RUN_COLUMN);
        header.addAll(metrics);
        List<List<String>> rows = new ArrayList<>();
        for (RunMetrics run : runs) {
            List<String> row = new ArrayList<>();
            row.add(run.name());
            for (String metric : metrics) {
                Double value = run.values().get(metric);
                row.add(value == null ? MISSING : String.format(Locale.ROOT, "%.4f", value));
            }
            rows.add(row);
        }
        Set<Integer> numericColumns = IntStream.range(1, header.size()).boxed().collect(Collectors.toUnmodifiableSet());
        return TextTable.render(header, rows, numericColumns);
    }
}
