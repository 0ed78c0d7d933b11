package dev.graft.runtime.train;

/** The loss or the gradients became NaN or infinite; the message names the step, the last good checkpoint and a hint. */
public final class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TrainingDivergedException(String message) {
        super(message);
    }
}
