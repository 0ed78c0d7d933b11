package dev.graft.runtime.plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

/** Writes small jars and not-jars for plugin-loading tests. */
final class JarFixtures {
    static final String SERVICE_FILE = "META-INF/services/dev.graft.spi.PeftMethod";

    private JarFixtures() {}

    /** Writes a jar at {@code jar} holding {@code entries} (name to bytes) and returns it. */
    static Path jar(Path jar, Map<String, byte[]> entries) throws IOException {
        Files.createDirectories(jar.getParent());
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream output = new JarOutputStream(file, manifest)) {
            for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
                output.putNextEntry(new JarEntry(entry.getKey()));
                output.write(entry.getValue());
                output.closeEntry();
            }
        }
        return jar;
    }

    /** A jar whose services file lists {@code providers}, one per line, and nothing else. */
    static Path serviceJar(Path jar, String... providers) throws IOException {
        return jar(jar, Map.of(SERVICE_FILE, String.join("\n", providers).getBytes(StandardCharsets.UTF_8)));
    }

    /** The class file of {@code type}, to put into a jar under its own name. */
    static Map<String, byte[]> classFile(Class<?> type) throws IOException {
        String name = type.getName().replace('.', '/') + ".class";
        try (InputStream input = type.getClassLoader().getResourceAsStream(name)) {
            return Map.of(name, input.readAllBytes());
        }
    }

    /** A file of random bytes named like a jar. */
    static Path notAJar(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        byte[] bytes = new byte[512];
        new Random(42).nextBytes(bytes);
        return Files.write(file, bytes);
    }
}
