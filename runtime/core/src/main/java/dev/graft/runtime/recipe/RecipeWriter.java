package dev.graft.runtime.recipe;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.graft.runtime.io.AtomicFiles;

import java.nio.file.Path;

/** Writes a recipe as YAML with every field of every section, defaults included, so that a run can be repeated from it. */
public final class RecipeWriter {
    private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .build());

    private RecipeWriter() {}

    /** The recipe as YAML text. */
    public static String toYaml(Recipe recipe) {
        requireNonNull(recipe, "recipe is null");
        try {
            return YAML.writeValueAsString(recipe);
        }
        catch (JsonProcessingException e) {
            throw new RecipeException(format("Cannot write the recipe as YAML: %s", e.getOriginalMessage()), e);
        }
    }

    /** Writes the recipe to {@code file} atomically (a temporary file moved into place). */
    public static void write(Path file, Recipe recipe) {
        requireNonNull(file, "file is null");
        AtomicFiles.write(file, toYaml(recipe));
    }
}
