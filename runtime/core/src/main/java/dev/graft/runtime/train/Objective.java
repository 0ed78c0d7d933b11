package dev.graft.runtime.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.ParameterStore;

/** What a trainer minimises: the scalar loss of a batch, computed through the model (and a task head, if any). */
@FunctionalInterface
public interface Objective {
    /**
     * The mean loss of the batch, a scalar that backward starts from.
     *
     * @param inputs the model inputs ({@code input_ids, attention_mask, ...})
     * @param labels what the loss compares against
     * @param training whether this is a training forward (dropout on)
     */
    NDArray loss(ParameterStore parameterStore, NDList inputs, NDList labels, boolean training);
}
