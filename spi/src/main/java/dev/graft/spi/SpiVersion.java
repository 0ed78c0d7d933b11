package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The version of this SPI, as {@code major.minor}.
 *
 * <p>A plugin reports the SPI version it was compiled against in its {@link MethodDescriptor}: a subclass of
 * {@link AbstractPeftMethod} passes the inherited constant {@link AbstractPeftMethod#SPI_VERSION} (equal to
 * {@link #CURRENT}), unqualified, to {@code setSpiVersion}; a method written against {@link PeftMethod} directly passes
 * {@link #CURRENT}. Both are compile-time constants, so the compiler copies the value into the plugin's class file: the
 * value a plugin reports is the one of the SPI it was built with, not the one of the runtime that loads it.
 *
 * <p>A plugin is compatible when its major version equals the runtime's and its minor version is not newer.
 */
public final class SpiVersion {
    /** The SPI version of this jar; a plugin passes it (or {@link AbstractPeftMethod#SPI_VERSION}) to {@link MethodDescriptor}. */
    public static final String CURRENT = "2.2";

    private SpiVersion() {}

    /**
     * Tells whether a plugin built against {@code pluginSpiVersion} can run on an SPI of {@code runtimeSpiVersion}.
     *
     * @throws IllegalArgumentException if either version is not of the form {@code major.minor}
     */
    public static boolean isCompatible(String pluginSpiVersion, String runtimeSpiVersion) {
        int[] plugin = parse(pluginSpiVersion);
        int[] runtime = parse(runtimeSpiVersion);
        return plugin[0] == runtime[0] && plugin[1] <= runtime[1];
    }

    /** Parses {@code major.minor} into two integers. */
    static int[] parse(String version) {
        requireNonNull(version, "version is null");
        String[] parts = version.split("\\.");
        if (parts.length != 2) {
            throw new IllegalArgumentException(format("SPI version '%s' is not of the form major.minor (for example %s)", version, CURRENT));
        }
        try {
            return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
        }
        catch (NumberFormatException e) {
            throw new IllegalArgumentException(format("SPI version '%s' is not of the form major.minor (for example %s)", version, CURRENT), e);
        }
    }
}
