package dev.graft.runtime.train;

import dev.graft.runtime.error.GraftException;

/**
 * A checkpoint or the run's adapter could not be written (a full disk, say); the message names what, why, and that the
 * previous checkpoint and adapter are intact, so the run continues with {@code graft train --resume} once it can write.
 */
public final class RunWriteException extends GraftException {
    private static final long serialVersionUID = 1L;

    public RunWriteException(String message, Throwable cause) {
        super(Kind.FAILURE, message, cause);
    }
}
