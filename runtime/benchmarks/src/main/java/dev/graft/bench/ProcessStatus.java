package dev.graft.bench;

import static java.lang.String.format;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The memory figures of {@code /proc/self/status} (Linux), in bytes.
 *
 * @param residentAnonymous {@code RssAnon}: resident anonymous memory — the Java heap, direct buffers, libtorch's
 *        allocations. File-backed pages, such as a memory-mapped checkpoint being read, are not counted here
 * @param residentFile {@code RssFile}: resident file-backed pages (mapped files and the JVM's own libraries)
 * @param resident {@code VmRSS}: all resident memory, {@code RssAnon + RssFile + RssShmem}
 * @param peakResident {@code VmHWM}: the peak of {@code VmRSS} since the process started
 */
record ProcessStatus(long residentAnonymous, long residentFile, long resident, long peakResident) {
    private static final Path STATUS = Path.of("/proc/self/status");

    /** The current figures of this process. */
    static ProcessStatus read() {
        List<String> lines;
        try {
            lines = Files.readAllLines(STATUS);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot read %s: the memory benchmark needs Linux", STATUS), e);
        }
        return new ProcessStatus(field(lines, "RssAnon"), field(lines, "RssFile"), field(lines, "VmRSS"), field(lines, "VmHWM"));
    }

    /** The value of a {@code Name:   123 kB} line, in bytes. */
    private static long field(List<String> lines, String name) {
        for (String line : lines) {
            if (line.startsWith(name + ":")) {
                String[] parts = line.substring(name.length() + 1).trim().split("\\s+");
                if (parts.length != 2 || !parts[1].equals("kB")) {
                    throw new IllegalStateException(format("%s: cannot read line '%s' (expected '%s: <number> kB')", STATUS, line, name));
                }
                return Long.parseLong(parts[0]) * 1024;
            }
        }
        throw new IllegalStateException(format("%s has no %s line", STATUS, name));
    }
}
