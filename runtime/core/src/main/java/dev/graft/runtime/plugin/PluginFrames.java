package dev.graft.runtime.plugin;

import static java.lang.String.format;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Says which plugin a failure came from, by the class loader names in its stack trace: the runtime names every
 * plugin loader {@link PluginClassLoader#NAME_PREFIX} followed by the plugin's jar or folder.
 */
public final class PluginFrames {
    private PluginFrames() {}

    /**
     * The plugin that threw {@code failure} (or one of its causes) and where, such as
     * {@code plugin /plugins/shift.jar, in com.example.ShiftMethod.create(ShiftMethod.java:12)}; empty when no plugin
     * code is on the stack. The innermost cause is searched first, from the frame that threw outwards.
     */
    public static Optional<String> locate(Throwable failure) {
        List<Throwable> chain = new ArrayList<>();
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable cause = failure; cause != null && seen.add(cause); cause = cause.getCause()) {
            chain.add(cause);
        }
        Collections.reverse(chain);
        for (Throwable cause : chain) {
            for (StackTraceElement frame : cause.getStackTrace()) {
                String loaderName = frame.getClassLoaderName();
                if (loaderName != null && loaderName.startsWith(PluginClassLoader.NAME_PREFIX)) {
                    return Optional.of(format("%s, in %s.%s(%s:%d)", loaderName, frame.getClassName(), frame.getMethodName(),
                            frame.getFileName() == null ? "unknown source" : frame.getFileName(), frame.getLineNumber()));
                }
            }
        }
        return Optional.empty();
    }
}
