package dev.graft.runtime.data;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One raw example: its field values as strings, in file order, and where it came from.
 *
 * @param source the file and line
 * @param fields the values by field name; absent (or null) fields are missing
 */
public record Example(SourceLine source, Map<String, String> fields) {
    public Example {
        requireNonNull(source, "source is null");
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(fields, "fields is null")));
    }

    /**
     * The value of {@code field}.
     *
     * @param hint how to fix a missing field, appended to the message
     * @throws DataException naming the line and the fields it has when the field is missing
     */
    public String require(String field, String hint) {
        String value = fields.get(field);
        if (value == null) {
            throw new DataException(format("%s: field '%s' is missing; the line has fields %s. %s", source, field, fields.keySet(), hint));
        }
        return value;
    }

    /** The value of {@code field}, if present. */
    public Optional<String> optional(String field) {
        return Optional.ofNullable(fields.get(field));
    }
}
