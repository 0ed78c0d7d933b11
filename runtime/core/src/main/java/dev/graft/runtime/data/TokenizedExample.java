package dev.graft.runtime.data;

/**
 * An example turned into model inputs.
 *
 * @param index the example's position in its data set
 * @param inputIds the token ids
 * @param tokenTypeIds the token type ids
 * @param targets for a causal LM, per position the token the loss predicts there (Hugging Face's unshifted
 *        {@code labels}) or -100 where not counted; null for classification
 * @param label the class index, or -1 for a causal LM (or an unlabelled text)
 */
public record TokenizedExample(int index, long[] inputIds, long[] tokenTypeIds, long[] targets, int label) {
    public TokenizedExample {
        inputIds = inputIds.clone();
        tokenTypeIds = tokenTypeIds == null ? new long[inputIds.length] : tokenTypeIds.clone();
        targets = targets == null ? null : targets.clone();
        if (tokenTypeIds.length != inputIds.length || targets != null && targets.length != inputIds.length) {
            throw new IllegalArgumentException(String.format("example %d: %d ids, %d type ids and %d targets must be as many", index, inputIds.length,
                    tokenTypeIds.length, targets == null ? inputIds.length : targets.length));
        }
    }
}
