package dev.graft.spi;

/**
 * The allowed range of a number option (and of the elements or values of a number list or map). A value within
 * bounds is also finite; an option without bounds is not checked (a method's own rule may then reject NaN).
 *
 * @param minimum the lower bound, {@code -∞} for none
 * @param minimumExclusive whether the lower bound itself is excluded
 * @param maximum the upper bound, {@code +∞} for none
 * @param maximumExclusive whether the upper bound itself is excluded
 */
public record OptionBounds(double minimum, boolean minimumExclusive, double maximum, boolean maximumExclusive) {
    /** No bounds: the schema does not check the value. */
    public static final OptionBounds NONE = new OptionBounds(Double.NEGATIVE_INFINITY, false, Double.POSITIVE_INFINITY, false);

    public OptionBounds {
        if (Double.isNaN(minimum) || Double.isNaN(maximum) || minimum > maximum) {
            throw new IllegalArgumentException(String.format("bounds [%s, %s] are empty", minimum, maximum));
        }
    }

    /** Whether {@code value} is finite and within the bounds. */
    public boolean contains(double value) {
        if (!Double.isFinite(value)) {
            return false;
        }
        boolean aboveMinimum = minimumExclusive ? value > minimum : value >= minimum;
        boolean belowMaximum = maximumExclusive ? value < maximum : value <= maximum;
        return aboveMinimum && belowMaximum;
    }

    /** Whether there is a bound. */
    public boolean isBounded() {
        return minimum != Double.NEGATIVE_INFINITY || maximum != Double.POSITIVE_INFINITY;
    }

    /** The range for people: {@code > 0}, {@code >= 1}, {@code in [0, 1)}; empty without bounds. */
    public String describe() {
        boolean lower = minimum != Double.NEGATIVE_INFINITY;
        boolean upper = maximum != Double.POSITIVE_INFINITY;
        if (lower && upper) {
            return String.format("in %s%s, %s%s", minimumExclusive ? "(" : "[", number(minimum), number(maximum), maximumExclusive ? ")" : "]");
        }
        if (lower) {
            return String.format("%s %s", minimumExclusive ? ">" : ">=", number(minimum));
        }
        if (upper) {
            return String.format("%s %s", maximumExclusive ? "<" : "<=", number(maximum));
        }
        return "";
    }

    private static String number(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : Double.toString(value);
    }
}
