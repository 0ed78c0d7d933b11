package dev.graft.runtime.recipe;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/** The valid name nearest to a misspelt one, by Levenshtein distance, offered only when it is close. */
public final class NearestName {
    private NearestName() {}

    /** The candidate nearest to {@code name}, when its distance is at most max(2, length / 3). */
    public static Optional<String> of(String name, Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : candidates) {
            int distance = distance(name.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
            if (distance < bestDistance) {
                best = candidate;
                bestDistance = distance;
            }
        }
        if (best == null || bestDistance > Math.max(2, name.length() / 3)) {
            return Optional.empty();
        }
        return Optional.of(best);
    }

    /** The suffix {@code ; did you mean 'x'?}, or nothing. */
    static String suggestion(String name, Collection<String> candidates) {
        return of(name, candidates).map(nearest -> String.format("; did you mean '%s'?", nearest)).orElse("");
    }

    static int distance(String first, String second) {
        int[] previous = new int[second.length() + 1];
        int[] current = new int[second.length() + 1];
        for (int column = 0; column <= second.length(); column++) {
            previous[column] = column;
        }
        for (int row = 1; row <= first.length(); row++) {
            current[0] = row;
            for (int column = 1; column <= second.length(); column++) {
                int substitution = previous[column - 1] + (first.charAt(row - 1) == second.charAt(column - 1) ? 0 : 1);
                current[column] = Math.min(substitution, Math.min(previous[column] + 1, current[column - 1] + 1));
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[second.length()];
    }
}
