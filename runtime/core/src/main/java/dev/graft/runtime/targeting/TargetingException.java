package dev.graft.runtime.targeting;

import dev.graft.runtime.error.GraftException;

/**
 * Thrown when targeting rules are malformed or select nothing. The message names the offending
 * configuration key or patterns and, when nothing matched, a few of the module names that exist.
 */
public final class TargetingException extends GraftException {
    private static final long serialVersionUID = 1L;

    public TargetingException(String message) {
        super(Kind.FAILURE, message, null);
    }
}
