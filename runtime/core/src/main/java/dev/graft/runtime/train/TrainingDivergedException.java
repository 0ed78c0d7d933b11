package dev.graft.runtime.train;

import dev.graft.runtime.error.GraftException;

/** The loss or the gradients became NaN or infinite; the message names the step, the last good checkpoint and a hint. */
public final class TrainingDivergedException extends GraftException {
    private static final long serialVersionUID = 1L;

    public TrainingDivergedException(String message) {
        super(Kind.FAILURE, message, null);
    }
}
