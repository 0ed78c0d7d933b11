package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.stream.Collectors.joining;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.report.TextTable;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.SiteKind;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What {@code graft methods ID} prints: one method's description, where it attaches, its default targets and its options. */
final class MethodOptionTable {
    static final List<String> HEADER = List.of("OPTION", "TYPE", "DEFAULT", "DESCRIPTION");

    private MethodOptionTable() {}

    static List<String> render(LoadedMethod method) {
        MethodDescriptor descriptor = method.descriptor();
        List<String> lines = new ArrayList<>();
        lines.add(format("%s %s (peft_type %s, SPI %s): %s", descriptor.id(), descriptor.version(), descriptor.peftType(), descriptor.spiVersion(),
                descriptor.description()));
        lines.add(format("attaches to: %s; merges into the base weights: %s; loaded from %s",
                descriptor.siteKinds().stream().sorted(Comparator.comparing(SiteKind::ordinal)).map(kind -> kind.name().toLowerCase(Locale.ROOT)).collect(joining(", ")),
                descriptor.mergeable() ? "yes" : "no",
                method.source()));
        if (!descriptor.defaultTargets().isEmpty()) {
            lines.add("default target_modules: " + descriptor.defaultTargets().entrySet().stream()
                    .sorted(Map.Entry.comparingByKey())
                    .map(entry -> format("%s %s", entry.getKey(), String.join(", ", entry.getValue())))
                    .collect(joining("; ")));
        }
        lines.add("");
        List<List<String>> rows = new ArrayList<>();
        for (OptionSpec option : descriptor.options().options()) {
            rows.add(List.of(option.name(), type(option), defaultValue(option), option.description()));
        }
        if (rows.isEmpty()) {
            lines.add("(no options)");
        }
        else {
            lines.addAll(TextTable.render(HEADER, rows));
        }
        return List.copyOf(lines);
    }

    private static String type(OptionSpec option) {
        switch (option.type()) {
            case CHOICE:
                return option.choices().stream().map(MethodOptionTable::render).collect(joining("|"));
            default:
                String type = option.type().name().toLowerCase(Locale.ROOT).replace('_', ' ');
                return option.bounds().isBounded() ? type + " " + option.bounds().describe() : type;
        }
    }

    private static String defaultValue(OptionSpec option) {
        if (option.required()) {
            return "(required)";
        }
        return option.defaultValue() == null ? "(none)" : render(option.defaultValue());
    }

    private static String render(Object value) {
        return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
    }
}
