package dev.graft.runtime.data;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** A seeded, reproducible split into training and validation examples, and the order of the examples in each epoch. */
public final class DataSplit {
    private DataSplit() {}

    /**
     * Shuffles the indexes with {@code new Random(seed)} and takes the last {@code round(size · fraction)} (at least one
     * when {@code fraction > 0}) as validation; both lists keep the file order of their members.
     */
    public static Split split(List<Example> examples, double fraction, long seed) {
        requireNonNull(examples, "examples is null");
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException(format("data.validation_split must be in [0, 1), found %s", fraction));
        }
        int size = examples.size();
        int validationSize = fraction == 0 ? 0 : (int) Math.max(1, Math.round(size * fraction));
        if (validationSize >= size) {
            throw new DataException(format("%d examples are too few to split off %.0f%% for validation; add examples or give data.validation",
                    size, fraction * 100));
        }
        List<Integer> indexes = new ArrayList<>();
        for (int index = 0; index < size; index++) {
            indexes.add(index);
        }
        Collections.shuffle(indexes, new Random(seed));
        boolean[] validation = new boolean[size];
        for (int index : indexes.subList(size - validationSize, size)) {
            validation[index] = true;
        }
        List<Example> train = new ArrayList<>();
        List<Example> held = new ArrayList<>();
        for (int index = 0; index < size; index++) {
            (validation[index] ? held : train).add(examples.get(index));
        }
        return new Split(train, held);
    }

    /** A permutation of {@code 0..size-1}: the order of the examples in epoch {@code epoch} (0-based) of a run seeded {@code seed}. */
    public static int[] epochOrder(int size, long seed, int epoch) {
        List<Integer> order = new ArrayList<>();
        for (int index = 0; index < size; index++) {
            order.add(index);
        }
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        return order.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Training and validation examples.
     *
     * @param train the examples to train on
     * @param validation the held-out examples
     */
    public record Split(List<Example> train, List<Example> validation) {
        public Split {
            train = List.copyOf(train);
            validation = List.copyOf(validation);
        }
    }
}
