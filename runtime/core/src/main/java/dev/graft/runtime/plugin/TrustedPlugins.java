package dev.graft.runtime.plugin;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The plugin jars the user trusts, by SHA-256 sum, read from a file in {@code sha256sum} format
 * ({@code <64 hex digits>  <file name>} per line; blank lines and {@code #} comments are skipped). When a
 * configuration has one, every plugin jar whose sum is not listed is refused before any of its classes load; the
 * file names in the list are for people, only the sums count.
 *
 * @param file the list, absolute
 * @param sums the trusted sums, lower-case hex
 */
public record TrustedPlugins(Path file, Set<String> sums) {
    private static final Pattern LINE = Pattern.compile("([0-9a-fA-F]{64}) [ *](.+)");

    public TrustedPlugins {
        requireNonNull(file, "file is null");
        sums = Set.copyOf(requireNonNull(sums, "sums is null"));
    }

    /**
     * Reads {@code file}.
     *
     * @throws IllegalArgumentException naming the file and the line when the file cannot be read or a line is not a
     *     {@code sha256sum} line
     */
    public static TrustedPlugins read(Path file) {
        requireNonNull(file, "file is null");
        Path absolute = file.toAbsolutePath().normalize();
        List<String> lines;
        try {
            lines = Files.readAllLines(absolute, StandardCharsets.UTF_8);
        }
        catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(format(
                    "trusted plugin list %s cannot be read (%s); pass a file of SHA-256 sums as 'sha256sum plugins/*.jar' writes it",
                    absolute, MethodRegistryLoader.describe(e)), e);
        }
        Set<String> sums = new LinkedHashSet<>();
        for (int index = 0; index < lines.size(); index++) {
            String line = lines.get(index).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher matcher = LINE.matcher(line);
            if (!matcher.matches()) {
                throw new IllegalArgumentException(format(
                        "trusted plugin list %s, line %d is not a sha256sum line ('<64 hex digits>  <file name>'): '%s'; write the file with 'sha256sum plugins/*.jar'",
                        absolute, index + 1, line.length() > 80 ? line.substring(0, 80) + "..." : line));
            }
            sums.add(matcher.group(1).toLowerCase(Locale.ROOT));
        }
        return new TrustedPlugins(absolute, sums);
    }

    /** Whether {@code sha256} (hex) is listed. */
    public boolean trusts(String sha256) {
        return sums.contains(requireNonNull(sha256, "sha256 is null").toLowerCase(Locale.ROOT));
    }

    /** The SHA-256 sum of {@code file} in lower-case hex, as {@code sha256sum} prints it. */
    public static String sha256(Path file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        }
        catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        try (InputStream input = new DigestInputStream(Files.newInputStream(file), digest)) {
            input.transferTo(OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
