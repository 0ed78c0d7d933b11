package dev.graft.runtime.error;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * The one place where a name becomes a path inside a folder. {@link #child} refuses a name that would leave the folder:
 * empty, {@code .} or {@code ..}, absolute, holding a separator ({@code /} or {@code \}) or a NUL, and a child that
 * exists as a symbolic link whose target lies outside the folder. Writers and readers of multi-adapter folders
 * ({@code <folder>/<adapter name>/}) and of sharded checkpoints ({@code <folder>/<shard file>}) go through it.
 */
public final class SafeNames {
    private SafeNames() {}

    /**
     * {@code folder/name}, checked to stay inside {@code folder}.
     *
     * @param what what the name is, for the message, e.g. {@code "adapter name"}
     * @throws UnsafePathException naming {@code what}, the name, the folder and the fix
     */
    public static Path child(Path folder, String name, String what) {
        requireNonNull(folder, "folder is null");
        requireNonNull(name, "name is null");
        requireNonNull(what, "what is null");
        String problem = problem(name);
        if (problem != null) {
            throw new UnsafePathException(format("%s '%s' cannot be used in folder %s: %s; use a single file or folder name such as 'default'",
                    what, printable(name), folder, problem));
        }
        Path child;
        try {
            child = folder.resolve(name);
        }
        catch (InvalidPathException e) {
            throw new UnsafePathException(format("%s '%s' cannot be used in folder %s: it is not a valid file name here (%s); use letters, digits, '_', '-' and '.'",
                    what, printable(name), folder, e.getReason()));
        }
        checkLink(folder, child, what, name);
        return child;
    }

    private static String problem(String name) {
        if (name.isEmpty()) {
            return "it is empty";
        }
        if (name.equals(".") || name.equals("..")) {
            return "it names the folder itself or its parent";
        }
        if (name.startsWith("/") || name.startsWith("\\") || name.length() > 1 && name.charAt(1) == ':') {
            return "it is an absolute path";
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0) {
            return "it holds a path separator, so it would lead into another folder";
        }
        if (name.indexOf('\0') >= 0) {
            return "it holds a NUL character";
        }
        return null;
    }

    /** A symbolic link at {@code child} must point inside {@code folder} (compared as real paths). */
    private static void checkLink(Path folder, Path child, String what, String name) {
        if (!Files.isSymbolicLink(child)) {
            return;
        }
        Path target;
        Path realFolder;
        try {
            realFolder = folder.toRealPath();
            target = child.toRealPath();
        }
        catch (IOException e) {
            throw new UnsafePathException(format("%s '%s' in folder %s is a symbolic link that cannot be followed (%s); replace it by the file or folder itself",
                    what, printable(name), folder, IoErrors.describe(e)));
        }
        if (!target.startsWith(realFolder) || target.equals(realFolder)) {
            throw new UnsafePathException(format("%s '%s' in folder %s is a symbolic link to %s, outside the folder; replace the link by a copy inside %s",
                    what, printable(name), folder, target, folder));
        }
    }

    private static String printable(String name) {
        StringBuilder text = new StringBuilder();
        name.codePoints().limit(80).forEach(point -> {
            if (Character.isISOControl(point)) {
                text.append(format("\\u%04x", point));
            }
            else {
                text.appendCodePoint(point);
            }
        });
        return name.codePointCount(0, name.length()) > 80 ? text + "..." : text.toString();
    }
}
