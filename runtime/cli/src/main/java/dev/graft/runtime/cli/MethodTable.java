package dev.graft.runtime.cli;

import static java.util.stream.Collectors.joining;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.report.TextTable;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.SiteKind;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** Renders loaded methods as a plain-text table with aligned columns and no trailing blanks. */
final class MethodTable {
    static final List<String> HEADER = List.of("ID", "VERSION", "SPI", "SITE KINDS", "MERGEABLE", "LOADED FROM");

    private MethodTable() {}

    /** The header line followed by one line per method, by id. */
    static List<String> render(List<LoadedMethod> methods) {
        List<List<String>> rows = methods.stream()
                .sorted(Comparator.comparing(LoadedMethod::id))
                .map(MethodTable::row)
                .toList();
        return TextTable.render(HEADER, rows);
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
