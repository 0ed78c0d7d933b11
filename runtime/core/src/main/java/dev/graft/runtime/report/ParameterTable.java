package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** The table of trainable parameters a user sees before training starts. */
public final class ParameterTable {
    static final List<String> HEADER = List.of("ADAPTER", "METHOD", "COMPOSITION", "SITES", "PARAMETERS");
    private static final Set<Integer> NUMERIC_COLUMNS = Set.of(3, 4);

    private ParameterTable() {}

    /**
     * Before training: one row per adapter (ADAPTER METHOD COMPOSITION SITES PARAMETERS) in the given order; when
     * {@code gateCount} is more than 0, a row "gates  runtime  -  gateCount  gateParameters"; then a row per extra
     * trainable module (the rows with method {@value ParameterRow#HEAD_METHOD}); then a blank line and
     * {@code peftLine} exactly as given (PEFT's "trainable params: ... || all params: ... || trainable%: ..."). Counts
     * carry grouping commas and are right-aligned.
     */
    public static List<String> render(List<ParameterRow> rows, int gateCount, long gateParameters, String peftLine) {
        requireNonNull(rows, "rows is null");
        requireNonNull(peftLine, "peftLine is null");
        if (gateCount < 0 || gateParameters < 0) {
            throw new IllegalArgumentException(format("Gates: %d gates with %d parameters; both counts are 0 or more", gateCount, gateParameters));
        }
        List<List<String>> cells = new ArrayList<>();
        rows.stream().filter(row -> !row.isHead()).map(ParameterTable::cells).forEach(cells::add);
        if (gateCount > 0) {
            cells.add(List.of("gates", "runtime", "-", count(gateCount), count(gateParameters)));
        }
        rows.stream().filter(ParameterRow::isHead).map(ParameterTable::cells).forEach(cells::add);
        List<String> lines = new ArrayList<>(TextTable.render(HEADER, cells, NUMERIC_COLUMNS));
        lines.add("");
        lines.add(peftLine);
        return List.copyOf(lines);
    }

    private static List<String> cells(ParameterRow row) {
        return List.of(row.adapter(), row.method(), row.composition(), count(row.sites()), count(row.parameters()));
    }

    private static String count(long value) {
        return String.format(Locale.ROOT, "%,d", value);
    }
}
