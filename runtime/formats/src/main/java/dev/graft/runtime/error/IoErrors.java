package dev.graft.runtime.error;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/**
 * Says in words why a file operation failed, without the JDK's exception class or the name of a temporary file:
 * {@code permission denied} for an {@link AccessDeniedException}, the operating system's reason
 * ({@code Read-only file system}, {@code Device or resource busy}) for other file-system errors.
 */
public final class IoErrors {
    private IoErrors() {}

    /** The reason, in lower-case words. */
    public static String describe(IOException exception) {
        requireNonNull(exception, "exception is null");
        if (exception instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (exception instanceof NoSuchFileException) {
            return "no such file or folder";
        }
        if (exception instanceof NotDirectoryException) {
            return "not a folder";
        }
        if (exception instanceof DirectoryNotEmptyException) {
            return "the folder is not empty";
        }
        if (exception instanceof FileAlreadyExistsException) {
            return "it already exists";
        }
        if (exception instanceof FileSystemException && ((FileSystemException) exception).getReason() != null) {
            String reason = ((FileSystemException) exception).getReason();
            return reason.isEmpty() ? reason : reason.substring(0, 1).toLowerCase(Locale.ROOT) + reason.substring(1);
        }
        return exception.getMessage() == null ? exception.getClass().getSimpleName() : exception.getMessage();
    }
}
