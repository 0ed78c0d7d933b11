package dev.graft.runtime.store;

import dev.graft.runtime.error.GraftException;

/** An adapter folder cannot be read or written; the message says which file and why. */
public final class StoreException extends GraftException {
    private static final long serialVersionUID = 1L;

    public StoreException(String message) {
        super(Kind.BAD_INPUT, message, null);
    }

    public StoreException(String message, Throwable cause) {
        super(Kind.BAD_INPUT, message, cause);
    }
}
