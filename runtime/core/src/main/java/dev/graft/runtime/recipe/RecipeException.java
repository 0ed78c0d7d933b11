package dev.graft.runtime.recipe;

import dev.graft.runtime.error.GraftException;

import java.util.Optional;

/** A recipe cannot be read or applied; the message names the file or adapter and the problem. */
public class RecipeException extends GraftException {
    private static final long serialVersionUID = 1L;

    private final String field;

    public RecipeException(String message) {
        this(message, (Throwable) null);
    }

    public RecipeException(String message, Throwable cause) {
        super(Kind.BAD_INPUT, message, cause);
        this.field = null;
    }

    private RecipeException(String field, String message) {
        super(Kind.BAD_INPUT, message, null);
        this.field = field;
    }

    /** A value out of range or not allowed; {@code field} is its dotted path, such as {@code training.epochs}. */
    static RecipeException invalidField(String field, String message) {
        return new RecipeException(field, message);
    }

    /** The dotted path of the field at fault, when one is. */
    Optional<String> field() {
        return Optional.ofNullable(field);
    }
}
