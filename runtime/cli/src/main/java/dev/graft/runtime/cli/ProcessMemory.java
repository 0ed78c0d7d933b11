package dev.graft.runtime.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * The process's resident memory now and at its peak ({@code VmRSS}, {@code VmHWM} of {@code /proc/self/status}, Linux),
 * with a reset of the peak through {@code /proc/self/clear_refs} so that a peak can be read per benchmark row.
 */
final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ProcessMemory() {}

    /**
     * Resets the peak to the current resident size (writes {@code 5} to {@code clear_refs}).
     *
     * @return whether the kernel accepted it
     */
    static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5", StandardCharsets.US_ASCII);
            return true;
        }
        catch (IOException | SecurityException e) {
            return false;
        }
    }

    /** The peak resident size in bytes since the start or the last {@link #resetPeak}, or empty where unknown. */
    static OptionalLong peakResident() {
        return field("VmHWM:");
    }

    /** The resident size in bytes now ({@code VmRSS}), or empty where unknown. */
    static OptionalLong resident() {
        return field("VmRSS:");
    }

    private static OptionalLong field(String name) {
        try {
            List<String> lines = Files.readAllLines(STATUS);
            for (String line : lines) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[0]) * 1024);
                }
            }
            return OptionalLong.empty();
        }
        catch (IOException | SecurityException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
