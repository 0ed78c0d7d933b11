package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;

import java.util.function.Consumer;

/**
 * What an adapter does to its base model in Python PEFT, written out from PEFT's formulas and the tensors of the
 * checkpoint, independently of the plugins: it changes base weights (a hand merge), or it puts virtual tokens in front
 * of the input, as embeddings (prompt tuning: {@code inputs_embeds} = prompt ⊕ token embeddings) or as keys and values
 * in every attention layer (prefix tuning: {@code past_key_values}, so real positions start after them). Only a change
 * of weights can be merged.
 *
 * @param merge folds the adapter into base weights; does nothing for the prompt-learning methods
 * @param prompt the virtual token embeddings {@code [n][hidden]}, or null
 * @param prefixKeys per layer the virtual keys {@code [kvHeads][n][headDim]}, or null
 * @param prefixValues per layer the virtual values {@code [kvHeads][n][headDim]}, or null
 */
record PeftEffect(Consumer<HandMerge> merge, double[][] prompt, double[][][][] prefixKeys, double[][][][] prefixValues) {
    PeftEffect {
        requireNonNull(merge, "merge is null");
        if ((prefixKeys == null) != (prefixValues == null)) {
            throw new IllegalArgumentException("prefix keys and values come together");
        }
    }

    /** No adapter: the base model. */
    static PeftEffect none() {
        return merged(merge -> {});
    }

    /** A change of weights, as {@code merge} folds it in. */
    static PeftEffect merged(Consumer<HandMerge> merge) {
        return new PeftEffect(merge, null, null, null);
    }

    /** Virtual token embeddings {@code [n][hidden]} in front of the input's. */
    static PeftEffect prompt(double[][] prompt) {
        return new PeftEffect(merge -> {}, requireNonNull(prompt, "prompt is null"), null, null);
    }

    /** Virtual keys and values, per layer {@code [kvHeads][n][headDim]}, in front of every attention layer's. */
    static PeftEffect prefix(double[][][][] keys, double[][][][] values) {
        return new PeftEffect(merge -> {}, null, requireNonNull(keys, "keys is null"), requireNonNull(values, "values is null"));
    }

    /** Whether the adapter is a change of weights, which PEFT (and Graft) can merge. */
    boolean mergeable() {
        return prompt == null && prefixKeys == null;
    }
}
