package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.norm.Dropout;

/** The model's own dropout ({@code hidden_dropout_prob}, {@code attention_probs_dropout_prob}): in training only, as PyTorch's {@code nn.Dropout}. */
final class ModelDropout {
    private ModelDropout() {}

    /** {@code x} with each element zeroed with probability {@code probability} and the rest scaled by {@code 1/(1 − probability)}, when training. */
    static NDArray apply(NDArray x, double probability, boolean training) {
        if (!training || probability == 0) {
            return x;
        }
        return Dropout.dropout(x, (float) probability, true).singletonOrThrow();
    }
}
