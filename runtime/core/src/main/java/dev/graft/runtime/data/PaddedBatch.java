package dev.graft.runtime.data;

/**
 * A batch padded on the right to its longest example, on the heap (the trainer turns it into arrays).
 *
 * @param exampleIndexes the data-set index of each row
 * @param inputIds token ids, the pad id at padding
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param tokenTypeIds token type ids, 0 at padding
 * @param targets causal-LM targets, -100 at padding; null for classification
 * @param labels class indexes; null for a causal LM
 * @param tokens the number of real tokens
 */
public record PaddedBatch(int[] exampleIndexes, long[][] inputIds, long[][] attentionMask, long[][] tokenTypeIds, long[][] targets, int[] labels, long tokens) {
    /** The number of examples. */
    public int size() {
        return exampleIndexes.length;
    }

    /** The padded sequence length. */
    public int length() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }
}
