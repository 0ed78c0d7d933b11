package dev.graft.spi;

/**
 * Thrown when a method's options are wrong: an unknown key, a value of the wrong type, a value out of range.
 * The message names the method, the key and what would be accepted. It is thrown before any tensor is made.
 */
public final class InvalidOptionsException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidOptionsException(String message) {
        super(message);
    }
}
