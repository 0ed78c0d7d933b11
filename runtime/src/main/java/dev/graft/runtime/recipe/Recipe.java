package dev.graft.runtime.recipe;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What to build, as a YAML or JSON file: a model and the adapters to attach to it.
 * <pre>
 * model: path/to/hf-model      # or minilm
 * adapters:
 *   - name: lowrank
 *     method: lora
 *     composition: gated        # sum (default) or gated
 *     target_modules: [q_proj, v_proj]
 *     options: {r: 8, lora_alpha: 2}
 *   - name: bottleneck
 *     method: adapter
 *     composition: gated
 * </pre>
 * Unknown keys are rejected with the file and the allowed keys named.
 *
 * @param model a Hugging Face model folder (relative to the recipe's folder) or {@code minilm}
 * @param adapters the adapters, attached in order
 */
public record Recipe(@JsonProperty(value = "model", required = true) String model, @JsonProperty("adapters") List<RecipeAdapter> adapters) {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public Recipe {
        requireNonNull(model, "model is null");
        adapters = adapters == null ? List.of() : List.copyOf(adapters);
    }

    /**
     * Reads a recipe (YAML, of which JSON is a subset).
     *
     * @throws RecipeException naming the file and the problem
     */
    public static Recipe read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new RecipeException(format("recipe %s does not exist", file));
        }
        try {
            Recipe recipe = YAML.readValue(file.toFile(), Recipe.class);
            if (recipe == null) {
                throw new RecipeException(format("recipe %s is empty; it needs at least 'model'", file));
            }
            return recipe;
        }
        catch (UnrecognizedPropertyException e) {
            throw new RecipeException(format("recipe %s: unknown key '%s' at %s; allowed keys there: %s",
                    file, e.getPropertyName(), location(e), e.getKnownPropertyIds()), e);
        }
        catch (JsonProcessingException e) {
            throw new RecipeException(format("recipe %s is invalid: %s", file, e.getOriginalMessage()), e);
        }
        catch (IOException e) {
            throw new RecipeException(format("Cannot read recipe %s: %s", file, e.getMessage()), e);
        }
    }

    private static String location(JsonProcessingException e) {
        return e.getLocation() == null ? "?" : format("line %d", e.getLocation().getLineNr());
    }
}
