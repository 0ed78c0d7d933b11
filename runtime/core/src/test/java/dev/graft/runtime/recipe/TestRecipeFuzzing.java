package dev.graft.runtime.recipe;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the recipe reader (YAML, and so JSON): any bytes either read into a recipe or fail with a
 * {@link RecipeException} naming the recipe and, where there is one, the line; no other exception, no hang (YAML aliases
 * and deep nesting included). Seeds and crashers live in {@code TestRecipeFuzzingInputs/read}; {@code mvn verify}
 * replays them and then fuzzes for {@code graft.fuzz.duration}.
 */
final class TestRecipeFuzzing {
    private static final Path FILE = scratchFile();

    @FuzzTest(maxDuration = "10s")
    @Timeout(10)
    void read(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        try {
            Recipe.read(FILE);
        }
        catch (RecipeException expected) {
            // The documented failure: one line naming the recipe, the place and the fix.
        }
    }

    private static Path scratchFile() {
        try {
            return Files.createTempDirectory("graft-fuzz").resolve("recipe.yaml");
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
