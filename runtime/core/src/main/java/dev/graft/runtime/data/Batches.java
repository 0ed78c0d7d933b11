package dev.graft.runtime.data;

import static java.lang.String.format;

import java.util.Arrays;
import java.util.List;

/** Pads tokenized examples into batches. */
public final class Batches {
    private static final long IGNORED = -100;

    private Batches() {}

    /** One batch of {@code examples}, in order, padded on the right with {@code padTokenId}. */
    public static PaddedBatch pad(List<TokenizedExample> examples, long padTokenId) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one example");
        }
        int rows = examples.size();
        int length = examples.stream().mapToInt(example -> example.inputIds().length).max().orElseThrow();
        boolean causal = examples.get(0).targets() != null;
        int[] indexes = new int[rows];
        long[][] ids = new long[rows][length];
        long[][] mask = new long[rows][length];
        long[][] types = new long[rows][length];
        long[][] targets = causal ? new long[rows][length] : null;
        int[] labels = causal ? null : new int[rows];
        long tokens = 0;
        for (int row = 0; row < rows; row++) {
            TokenizedExample example = examples.get(row);
            if ((example.targets() != null) != causal) {
                throw new IllegalArgumentException(format("example %d mixes causal-LM and classification examples in one batch", example.index()));
            }
            int size = example.inputIds().length;
            indexes[row] = example.index();
            Arrays.fill(ids[row], padTokenId);
            System.arraycopy(example.inputIds(), 0, ids[row], 0, size);
            Arrays.fill(mask[row], 0, size, 1);
            System.arraycopy(example.tokenTypeIds(), 0, types[row], 0, size);
            if (causal) {
                Arrays.fill(targets[row], IGNORED);
                System.arraycopy(example.targets(), 0, targets[row], 0, size);
            }
            else {
                labels[row] = example.label();
            }
            tokens += size;
        }
        return new PaddedBatch(indexes, ids, mask, types, targets, labels, tokens);
    }
}
