package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

/**
 * Why a plugin, or one method of it, was skipped.
 *
 * @param source the plugin's jar or folder (absolute path), the plugin directory, or {@link LoadedMethod#CLASSPATH}
 * @param message one line: what is wrong, where, and how to fix it; it names {@code source}
 */
public record PluginProblem(String source, String message) {
    public PluginProblem {
        requireNonNull(source, "source is null");
        requireNonNull(message, "message is null");
        if (message.contains("\n") || message.contains("\r")) {
            throw new IllegalArgumentException("problem message must be one line: " + message);
        }
    }

    @Override
    public String toString() {
        return message;
    }
}
