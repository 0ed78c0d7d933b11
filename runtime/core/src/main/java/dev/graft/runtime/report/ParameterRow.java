package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * One adapter's line in the parameter table: its name, its method id, how it is composed (e.g. "sum", "gated"),
 * the number of sites it attaches to and its trainable parameters. An extra trainable module (a classification
 * head) is a row with method {@value #HEAD_METHOD}.
 */
public record ParameterRow(String adapter, String method, String composition, int sites, long parameters) {
    /** The method of a row that describes an extra module trained in full rather than an adapter. */
    public static final String HEAD_METHOD = "head";

    /** Checks the row: names present, counts not negative. */
    public ParameterRow {
        requireNonNull(adapter, "adapter is null");
        requireNonNull(method, "method is null");
        requireNonNull(composition, "composition is null");
        if (sites < 0) {
            throw new IllegalArgumentException(format("Adapter %s has %d sites; a site count is 0 or more", adapter, sites));
        }
        if (parameters < 0) {
            throw new IllegalArgumentException(format("Adapter %s has %d parameters; a parameter count is 0 or more", adapter, parameters));
        }
    }

    /** Whether this row is an extra trainable module (method {@value #HEAD_METHOD}) rather than an adapter. */
    public boolean isHead() {
        return HEAD_METHOD.equals(method);
    }
}
