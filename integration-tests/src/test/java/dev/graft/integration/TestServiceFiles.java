package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** Providers are registered by {@code @AutoService} only: no module keeps a hand-written services file. */
final class TestServiceFiles {
    private static final Path SERVICE_FILE = Path.of("META-INF", "services", "dev.graft.spi.PeftMethod");
    private static final Set<String> NOT_SOURCES = Set.of("target", ".git", "node_modules");

    @Test
    void testNoHandWrittenPeftMethodServicesFile() throws IOException {
        Path repository = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize();
        assertThat(repository.resolve("spi").resolve("pom.xml")).as("repository root").exists();
        List<Path> handWritten = new ArrayList<>();

        Files.walkFileTree(repository, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path directory, BasicFileAttributes attributes) {
                return NOT_SOURCES.contains(String.valueOf(directory.getFileName())) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                if (file.endsWith(SERVICE_FILE)) {
                    handWritten.add(repository.relativize(file));
                }
                return FileVisitResult.CONTINUE;
            }
        });

        assertThat(handWritten).as("hand-written services files; annotate the class with @AutoService(PeftMethod.class) instead").isEmpty();
    }
}
