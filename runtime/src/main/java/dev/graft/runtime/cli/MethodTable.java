package dev.graft.runtime.cli;

import static java.util.stream.Collectors.joining;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.SiteKind;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** Renders loaded methods as a plain-text table with aligned columns and no trailing blanks. */
final class MethodTable {
    static final List<String> HEADER = List.of("ID", "VERSION", "SPI", "SITE KINDS", "MERGEABLE", "LOADED FROM");
    private static final String COLUMN_GAP = "  ";

    private MethodTable() {}

    /** The header line followed by one line per method, by id. */
    static List<String> render(List<LoadedMethod> methods) {
        List<List<String>> rows = new ArrayList<>();
        rows.add(HEADER);
        methods.stream()
                .sorted(Comparator.comparing(LoadedMethod::id))
                .map(MethodTable::row)
                .forEach(rows::add);
        int[] widths = new int[HEADER.size()];
        for (List<String> row : rows) {
            for (int column = 0; column < row.size(); column++) {
                widths[column] = Math.max(widths[column], row.get(column).length());
            }
        }
        List<String> lines = new ArrayList<>();
        for (List<String> row : rows) {
            StringBuilder line = new StringBuilder();
            for (int column = 0; column < row.size(); column++) {
                String cell = row.get(column);
                line.append(cell);
                if (column < row.size() - 1) {
                    line.append(" ".repeat(widths[column] - cell.length())).append(COLUMN_GAP);
                }
            }
            lines.add(line.toString());
        }
        return List.copyOf(lines);
    }

    private static List<String> row(LoadedMethod method) {
        MethodDescriptor descriptor = method.descriptor();
        String siteKinds = descriptor.siteKinds().stream()
                .sorted(Comparator.comparing(SiteKind::ordinal))
                .map(kind -> kind.name().toLowerCase(Locale.ROOT))
                .collect(joining(","));
        return List.of(
                descriptor.id(),
                descriptor.version(),
                descriptor.spiVersion(),
                siteKinds,
                descriptor.mergeable() ? "yes" : "no",
                method.source());
    }
}
