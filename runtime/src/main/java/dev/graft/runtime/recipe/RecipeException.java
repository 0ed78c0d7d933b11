package dev.graft.runtime.recipe;

/** A recipe cannot be read or applied; the message names the file or adapter and the problem. */
public final class RecipeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public RecipeException(String message) {
        super(message);
    }

    public RecipeException(String message, Throwable cause) {
        super(message, cause);
    }
}
