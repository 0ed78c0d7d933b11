package dev.graft.runtime.loader;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** A model directory's {@code config.json}, read field by field with one-line errors that name the file and the field. */
final class HuggingFaceConfig {
    static final String FILE_NAME = "config.json";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;
    private final JsonNode root;

    private HuggingFaceConfig(Path file, JsonNode root) {
        this.file = requireNonNull(file, "file is null");
        this.root = requireNonNull(root, "root is null");
    }

    /** Reads {@code config.json} in {@code directory}. */
    static HuggingFaceConfig read(Path directory) {
        Path file = directory.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(format("%s has no %s: a Hugging Face model directory holds config.json, model.safetensors (or its index) and, optionally, tokenizer.json",
                    directory, FILE_NAME));
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(file.toFile());
        }
        catch (JsonProcessingException e) {
            throw new ModelLoadException(format("%s is not valid JSON: %s (line %d)", file, e.getOriginalMessage(), e.getLocation() == null ? 0 : e.getLocation().getLineNr()), e);
        }
        catch (IOException e) {
            throw new ModelLoadException(format("cannot read %s: %s", file, e.getMessage()), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelLoadException(format("%s must hold a JSON object", file));
        }
        return new HuggingFaceConfig(file, root);
    }

    Path file() {
        return file;
    }

    /** {@code model_type}. */
    String modelType() {
        return optional(root, "model_type").map(node -> text(node, "model_type"))
                .orElseThrow(() -> error("has no 'model_type': is this a Hugging Face transformers model directory?"));
    }

    /** The integer {@code field}, which a {@code family} model needs. */
    int requiredInt(String field, String family) {
        return optional(root, field).map(node -> integer(node, field)).orElseThrow(() -> error(format("has no '%s', which a %s model needs", field, family)));
    }

    int intOr(String field, int fallback) {
        return optional(root, field).map(node -> integer(node, field)).orElse(fallback);
    }

    /** A token id field such as {@code eos_token_id}: an integer, or the first of a list of them (Llama 3 lists several). */
    java.util.OptionalLong tokenId(String field) {
        Optional<JsonNode> node = optional(root, field).map(value -> value.isArray() && value.size() > 0 ? value.get(0) : value);
        if (node.isEmpty() || node.get().isArray()) {
            return java.util.OptionalLong.empty();
        }
        return java.util.OptionalLong.of(integer(node.get(), field));
    }

    double doubleOr(String field, double fallback) {
        return doubleOr(root, field, fallback);
    }

    double doubleOr(JsonNode object, String field, double fallback) {
        return optional(object, field).map(node -> number(node, field)).orElse(fallback);
    }

    boolean booleanOr(String field, boolean fallback) {
        return optional(root, field).map(node -> {
            if (!node.isBoolean()) {
                throw error(format("'%s' must be true or false, found %s", field, node));
            }
            return node.booleanValue();
        }).orElse(fallback);
    }

    String stringOr(String field, String fallback) {
        return stringOr(root, field, fallback);
    }

    String stringOr(JsonNode object, String field, String fallback) {
        return optional(object, field).map(node -> text(node, field)).orElse(fallback);
    }

    /** The JSON object {@code field}; empty when absent or null. */
    Optional<JsonNode> object(String field) {
        return optional(root, field).map(node -> {
            if (!node.isObject()) {
                throw error(format("'%s' must be a JSON object, found %s", field, node));
            }
            return node;
        });
    }

    /** An error about this file: {@code "<file> <message>"}. */
    ModelLoadException error(String message) {
        return new ModelLoadException(format("%s %s", file, message));
    }

    private static Optional<JsonNode> optional(JsonNode object, String field) {
        JsonNode node = object.get(field);
        return node == null || node.isNull() ? Optional.empty() : Optional.of(node);
    }

    private int integer(JsonNode node, String field) {
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw error(format("field '%s' must be an integer, found %s", field, node));
        }
        return node.intValue();
    }

    private double number(JsonNode node, String field) {
        if (!node.isNumber()) {
            throw error(format("field '%s' must be a number, found %s", field, node));
        }
        return node.doubleValue();
    }

    private String text(JsonNode node, String field) {
        if (!node.isTextual()) {
            throw error(format("field '%s' must be a string, found %s", field, node));
        }
        return node.textValue();
    }
}
