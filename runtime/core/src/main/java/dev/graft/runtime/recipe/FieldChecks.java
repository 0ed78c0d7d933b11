package dev.graft.runtime.recipe;

import static java.lang.String.format;

import java.util.List;

/** Range and value checks of recipe fields, each failing with the field's dotted path, the rule and the value found. */
final class FieldChecks {
    private FieldChecks() {}

    static void atLeast(String field, long value, long minimum) {
        if (value < minimum) {
            throw RecipeException.invalidField(field, format("%s must be >= %d, found %d", field, minimum, value));
        }
    }

    static void positive(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw RecipeException.invalidField(field, format("%s must be > 0, found %s", field, value));
        }
    }

    static void nonNegative(String field, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw RecipeException.invalidField(field, format("%s must be >= 0, found %s", field, value));
        }
    }

    /** {@code value} in [0, 1). */
    static void fraction(String field, double value) {
        if (!(value >= 0 && value < 1)) {
            throw RecipeException.invalidField(field, format("%s must be in [0, 1), found %s", field, value));
        }
    }

    static void oneOf(String field, String value, List<String> allowed) {
        if (value != null && !allowed.contains(value)) {
            throw RecipeException.invalidField(field, format("%s '%s' is not known%s; use one of %s", field, value,
                    NearestName.suggestion(value, allowed), String.join(", ", allowed)));
        }
    }

    static void required(String field, Object value) {
        if (value == null) {
            throw RecipeException.invalidField(field, format("%s must not be null", field));
        }
    }
}
