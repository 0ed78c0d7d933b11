package dev.graft.runtime.data;

import dev.graft.runtime.error.GraftException;

/** Bad training or evaluation data: one line naming the file, the line number and the field, and how to fix it. */
public final class DataException extends GraftException {
    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(Kind.BAD_INPUT, message, null);
    }

    public DataException(String message, Throwable cause) {
        super(Kind.BAD_INPUT, message, cause);
    }
}
