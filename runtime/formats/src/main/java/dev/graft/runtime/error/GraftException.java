package dev.graft.runtime.error;

import static java.util.Objects.requireNonNull;

/**
 * The base of every error the runtime reports to a user: a file that cannot be read, a recipe, data or adapter
 * that is wrong, a model that cannot load, a training run that diverged. The message says what is wrong and,
 * where there is one, how to fix it. {@link #kind()} tells a caller (the CLI's exit code) whether the user's
 * input is at fault or the work failed.
 *
 * <p>It lives in graft-formats, the lowest layer, so that every module's errors share it.
 */
public abstract class GraftException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Who is at fault. */
    public enum Kind {
        /** What the user gave (a recipe, a data file, an adapter folder, a model folder) is wrong: fix it and rerun. */
        BAD_INPUT,
        /** The work itself failed (a malformed tensor file met mid-run, a diverged training run, a targeting error). */
        FAILURE
    }

    private final Kind kind;

    protected GraftException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = requireNonNull(kind, "kind is null");
    }

    /** Whether the user's input or the work is at fault. */
    public Kind kind() {
        return kind;
    }

    /** Whether the user's input is at fault: {@link Kind#BAD_INPUT}. */
    public boolean isBadInput() {
        return kind == Kind.BAD_INPUT;
    }
}
