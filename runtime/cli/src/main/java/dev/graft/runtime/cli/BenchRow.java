package dev.graft.runtime.cli;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * One measured row of {@code graft bench}.
 *
 * @param section {@code training} or {@code inference}
 * @param name what was measured
 * @param millis the time of each measured iteration, in milliseconds
 * @param tokens the tokens of one iteration: batch × sequence length
 * @param trainableParameters the parameters the row trains (0 for inference and the floor)
 * @param optimizerStateBytes the bytes of optimizer state after the row (0 where none)
 * @param peakResident the peak resident memory of the process during the row, where known
 * @param gigaflops the achieved GFLOP/s of the forward's matrix products, where counted
 */
record BenchRow(String section, String name, List<Double> millis, long tokens, long trainableParameters, long optimizerStateBytes,
        OptionalLong peakResident, OptionalDouble gigaflops) {
    BenchRow {
        requireNonNull(section, "section is null");
        requireNonNull(name, "name is null");
        millis = List.copyOf(requireNonNull(millis, "millis is null"));
        requireNonNull(peakResident, "peakResident is null");
        requireNonNull(gigaflops, "gigaflops is null");
        if (millis.isEmpty()) {
            throw new IllegalArgumentException("a bench row needs at least one measured iteration");
        }
    }

    /** The median time in milliseconds (the mean of the two middle ones for an even count). */
    double median() {
        List<Double> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        int middle = sorted.size() / 2;
        return sorted.size() % 2 == 1 ? sorted.get(middle) : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
    }

    double min() {
        return Collections.min(millis);
    }

    double max() {
        return Collections.max(millis);
    }

    /** Tokens per second at the median time. */
    double tokensPerSecond() {
        return tokens / (median() / 1000);
    }
}
