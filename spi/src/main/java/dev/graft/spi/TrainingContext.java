package dev.graft.spi;

import ai.djl.nn.Parameter;

import java.util.Collection;

/**
 * What a method may do to the model and the optimizer when it reacts to a {@link TrainingEvent}. The runtime
 * implements it.
 */
public interface TrainingContext {
    /** The current base weights of {@code site} (read-only views; do not close them). */
    LinearWeights linearWeights(LinearSite site);

    /**
     * Replaces the base weights of {@code site} (same shapes). The runtime copies the values in, converting to
     * the base weight's data type; the base stays frozen.
     */
    void setLinearWeights(LinearSite site, LinearWeights weights);

    /** Resets the optimizer's state (moments, step counts) of {@code parameters}, as if never updated. */
    void resetOptimizerState(Collection<Parameter> parameters);
}
