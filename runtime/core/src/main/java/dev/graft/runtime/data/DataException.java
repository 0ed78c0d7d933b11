package dev.graft.runtime.data;

/** Bad training or evaluation data: one line naming the file, the line number and the field, and how to fix it. */
public final class DataException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
