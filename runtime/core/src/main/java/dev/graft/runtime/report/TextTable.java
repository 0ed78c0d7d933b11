package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** A plain-text table: columns aligned with two spaces, no trailing blanks, optional right-aligned numeric columns. */
public final class TextTable {
    private static final String COLUMN_GAP = "  ";

    private TextTable() {}

    /** The header line followed by one line per row, every column left-aligned. */
    public static List<String> render(List<String> header, List<List<String>> rows) {
        return render(header, rows, Set.of());
    }

    /**
     * The header line followed by one line per row; the columns whose indexes are in {@code rightAligned} (header
     * cell included) are right-aligned, the others left-aligned. Every row has as many cells as the header.
     */
    public static List<String> render(List<String> header, List<List<String>> rows, Set<Integer> rightAligned) {
        requireNonNull(header, "header is null");
        requireNonNull(rows, "rows is null");
        requireNonNull(rightAligned, "rightAligned is null");
        for (int column : rightAligned) {
            if (column < 0 || column >= header.size()) {
                throw new IllegalArgumentException(format("Right-aligned column %d does not exist: the table has columns 0 to %d", column, header.size() - 1));
            }
        }
        List<List<String>> lines = new ArrayList<>();
        lines.add(checkedCells(header, "header"));
        for (int row = 0; row < rows.size(); row++) {
            List<String> cells = checkedCells(rows.get(row), format("row %d", row + 1));
            if (cells.size() != header.size()) {
                throw new IllegalArgumentException(format("Row %d has %d cells but the header has %d columns: %s; give every row one cell per column", row + 1, cells.size(), header.size(), cells));
            }
            lines.add(cells);
        }
        int[] widths = new int[header.size()];
        for (List<String> cells : lines) {
            for (int column = 0; column < cells.size(); column++) {
                widths[column] = Math.max(widths[column], cells.get(column).length());
            }
        }
        List<String> rendered = new ArrayList<>(lines.size());
        for (List<String> cells : lines) {
            StringBuilder line = new StringBuilder();
            for (int column = 0; column < cells.size(); column++) {
                String cell = cells.get(column);
                String padding = " ".repeat(widths[column] - cell.length());
                if (column > 0) {
                    line.append(COLUMN_GAP);
                }
                if (rightAligned.contains(column)) {
                    line.append(padding).append(cell);
                }
                else {
                    line.append(cell).append(padding);
                }
            }
            rendered.add(line.toString().stripTrailing());
        }
        return List.copyOf(rendered);
    }

    private static List<String> checkedCells(List<String> cells, String where) {
        requireNonNull(cells, () -> format("%s is null", where));
        for (int column = 0; column < cells.size(); column++) {
            if (cells.get(column) == null) {
                throw new IllegalArgumentException(format("Cell %d of the %s is null; give an empty string or \"-\" for a missing value", column, where));
            }
            if (cells.get(column).indexOf('\n') >= 0) {
                throw new IllegalArgumentException(format("Cell %d of the %s holds a line break: %s; a table cell is one line", column, where, cells.get(column)));
            }
        }
        return cells;
    }
}
