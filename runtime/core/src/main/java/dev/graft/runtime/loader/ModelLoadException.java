package dev.graft.runtime.loader;

import dev.graft.runtime.error.GraftException;

/**
 * Thrown when a model cannot be loaded: a missing or malformed {@code config.json}, an unsupported
 * {@code model_type} or option, missing or misshapen weights. The message is one line that names the directory
 * (or resource), what is wrong and, where there is one, how to fix it.
 */
public final class ModelLoadException extends GraftException {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(Kind.BAD_INPUT, message, null);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(Kind.BAD_INPUT, message, cause);
    }
}
