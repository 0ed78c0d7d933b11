package dev.graft.runtime.format;

import dev.graft.runtime.error.GraftException;

/**
 * Thrown when a safetensors file, a sharded checkpoint index or a tensor cannot be read or written.
 * The message names the file and, where one is involved, the tensor; it says what is wrong and, where
 * there is one, how to fix it.
 */
public final class SafetensorsException extends GraftException {
    private static final long serialVersionUID = 1L;

    public SafetensorsException(String message) {
        super(Kind.FAILURE, message, null);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(Kind.FAILURE, message, cause);
    }
}
