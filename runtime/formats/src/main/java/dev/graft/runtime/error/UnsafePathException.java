package dev.graft.runtime.error;

/**
 * A name given by a user or read from a file (an adapter name, a shard file name, a sub-folder of a multi-adapter
 * folder) would lead outside the folder it belongs in: {@code ../x}, an absolute path, a name with a separator, or a
 * symbolic link pointing elsewhere. The message names the name, the folder and how to fix it. See {@link SafeNames}.
 */
public final class UnsafePathException extends GraftException {
    private static final long serialVersionUID = 1L;

    public UnsafePathException(String message) {
        super(Kind.BAD_INPUT, message, null);
    }
}
