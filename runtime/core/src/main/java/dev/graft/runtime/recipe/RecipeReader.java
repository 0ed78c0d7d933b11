package dev.graft.runtime.recipe;

import static java.lang.String.format;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.graft.runtime.loader.Models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reads a recipe in four passes: parse into a tree remembering where each key is, check every key against the schema
 * (so a typo is reported at its own line with the nearest valid name), apply the overrides and the defaults, then bind
 * and check ranges; relative paths are resolved against the recipe's folder last.
 */
final class RecipeReader {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final RecipeSchema SCHEMA = RecipeSchema.of(Recipe.class);
    private static final Map<String, Object> SECTION_DEFAULTS = Map.of(
            "task", TaskSection.defaults(),
            "data", DataSection.defaults(),
            "training", TrainingSection.defaults(),
            "output", OutputSection.defaults());

    private final Path file;
    private final Map<String, JsonLocation> locations = new HashMap<>();

    private RecipeReader(Path file) {
        this.file = file;
    }

    static Recipe read(Path file, Map<String, Object> overrides) {
        if (!Files.isRegularFile(file)) {
            throw new RecipeException(format("recipe %s does not exist", file));
        }
        return new RecipeReader(file).read(overrides);
    }

    private Recipe read(Map<String, Object> overrides) {
        JsonNode root = parse();
        if (root == null || root.isNull() || root.isMissingNode()) {
            throw new RecipeException(format("recipe %s is empty; it needs at least 'model'", file));
        }
        if (!root.isObject()) {
            throw new RecipeException(format("recipe %s must be a mapping of fields (model, adapters, task, data, training, output, composition), found %s",
                    file, root.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)));
        }
        ObjectNode tree = (ObjectNode) root;
        expandPresets(tree);
        checkKeys(tree, SCHEMA, "");
        for (Map.Entry<String, Object> override : overrides.entrySet()) {
            applyOverride(tree, override.getKey(), override.getValue());
        }
        JsonNode model = tree.get("model");
        if (model == null || model.isNull()) {
            throw new RecipeException(format("recipe %s: 'model' is missing; it names a Hugging Face model folder or minilm", file));
        }
        checkAdapterNames(tree);
        for (Map.Entry<String, Object> section : SECTION_DEFAULTS.entrySet()) {
            ObjectNode defaults = YAML.valueToTree(section.getValue());
            JsonNode given = tree.get(section.getKey());
            if (given != null && given.isObject()) {
                defaults.setAll((ObjectNode) given);
            }
            if (given == null || given.isNull() || given.isObject()) {
                tree.set(section.getKey(), defaults);
            }
        }
        return resolvePaths(bind(tree));
    }

    private JsonNode parse() {
        try (JsonParser parser = YAML.getFactory().createParser(file.toFile())) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                return null;
            }
            return readValue(parser, "");
        }
        catch (JsonProcessingException e) {
            throw new RecipeException(format("recipe %s%s is not valid YAML: %s", file, at(e.getLocation()), e.getOriginalMessage()), e);
        }
        catch (IOException e) {
            throw new RecipeException(format("Cannot read recipe %s: %s", file, e.getMessage()), e);
        }
    }

    /** Reads the value at the parser's current token, recording the location of every key under {@code path}. */
    private JsonNode readValue(JsonParser parser, String path) throws IOException {
        JsonToken token = parser.currentToken();
        if (token == JsonToken.START_OBJECT) {
            ObjectNode object = NODES.objectNode();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                String child = path.isEmpty() ? name : path + "." + name;
                locations.put(child, parser.currentTokenLocation());
                parser.nextToken();
                object.set(name, readValue(parser, child));
            }
            return object;
        }
        if (token == JsonToken.START_ARRAY) {
            ArrayNode array = NODES.arrayNode();
            int index = 0;
            while (parser.nextToken() != JsonToken.END_ARRAY) {
                String child = format("%s[%d]", path, index++);
                locations.put(child, parser.currentTokenLocation());
                array.add(readValue(parser, child));
            }
            return array;
        }
        return YAML.readTree(parser);
    }

    private void checkKeys(ObjectNode object, RecipeSchema schema, String path) {
        Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            String child = path.isEmpty() ? name : path + "." + name;
            if (!schema.fields().containsKey(name)) {
                String place = path.isEmpty() ? "at the top level" : "in " + path;
                throw new RecipeException(format("recipe %s%s: unknown field '%s' %s%s Fields %s: %s", file, at(locations.get(child)), name, place,
                        NearestName.of(name, schema.fields().keySet()).map(nearest -> format("; did you mean '%s'?", nearest)).orElse("."),
                        path.isEmpty() ? "at the top level" : "of " + path,
                        String.join(", ", schema.fields().keySet().stream().filter(known -> !known.equals(RecipeAdapter.FROM_PRESET)).toList())));
            }
            RecipeSchema nested = schema.fields().get(name);
            if (nested == null) {
                continue;
            }
            JsonNode value = field.getValue();
            if (value.isObject() && !nested.isList()) {
                checkKeys((ObjectNode) value, nested, child);
            }
            else if (value.isArray() && nested.isList()) {
                for (int index = 0; index < value.size(); index++) {
                    if (value.get(index).isObject()) {
                        checkKeys((ObjectNode) value.get(index), nested, format("%s[%d]", child, index));
                    }
                }
            }
        }
    }

    /**
     * Replaces every adapters entry {@code {preset: NAME, PART: {...}}} by the adapters the preset becomes
     * ({@link RecipePresets}), moving the recorded key locations along so later messages still name the right line.
     */
    private void expandPresets(ObjectNode tree) {
        JsonNode adapters = tree.get("adapters");
        if (adapters == null || !adapters.isArray() || noPreset(adapters)) {
            return;
        }
        ArrayNode expanded = NODES.arrayNode();
        Map<String, JsonLocation> moved = new HashMap<>();
        for (int index = 0; index < adapters.size(); index++) {
            JsonNode entry = adapters.get(index);
            String path = format("adapters[%d]", index);
            if (!entry.isObject() || !entry.has(RecipePresets.PRESET)) {
                moveLocations(path, format("adapters[%d]", expanded.size()), moved);
                expanded.add(entry);
                continue;
            }
            JsonNode preset = entry.get(RecipePresets.PRESET);
            String presetPath = path + "." + RecipePresets.PRESET;
            if (!preset.isTextual() || !RecipePresets.NAMES.contains(preset.asText())) {
                String given = preset.isValueNode() ? preset.asText() : preset.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
                throw new RecipeException(format("recipe %s%s: unknown preset '%s' in %s%s Presets: %s", file, at(locations.get(presetPath)), given, path,
                        NearestName.of(given, RecipePresets.NAMES).map(nearest -> format("; did you mean '%s'?", nearest)).orElse("."),
                        String.join(", ", RecipePresets.NAMES.stream().sorted().toList())));
            }
            Map<String, ObjectNode> parts = RecipePresets.parts(preset.asText());
            List<String> keys = new ArrayList<>();
            keys.add(RecipePresets.PRESET);
            keys.addAll(parts.keySet());
            Map<String, ObjectNode> overrides = new HashMap<>();
            Iterator<Map.Entry<String, JsonNode>> fields = entry.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                String child = path + "." + field.getKey();
                if (!keys.contains(field.getKey())) {
                    throw new RecipeException(format("recipe %s%s: unknown field '%s' in %s (preset %s)%s Fields of a preset entry: %s", file,
                            at(locations.get(child)), field.getKey(), path, preset.asText(),
                            NearestName.of(field.getKey(), keys).map(nearest -> format("; did you mean '%s'?", nearest)).orElse("."), String.join(", ", keys)));
                }
                if (field.getKey().equals(RecipePresets.PRESET) || field.getValue().isNull()) {
                    continue;
                }
                if (!field.getValue().isObject()) {
                    throw new RecipeException(format("recipe %s%s: %s must be a mapping of the %s adapter's fields and options, found '%s'", file,
                            at(locations.get(child)), child, field.getKey(), field.getValue().asText()));
                }
                overrides.put(field.getKey(), (ObjectNode) field.getValue());
            }
            List<ObjectNode> parted = RecipePresets.expand(preset.asText(), overrides);
            List<String> partIds = new ArrayList<>(parts.keySet());
            for (int part = 0; part < parted.size(); part++) {
                String target = format("adapters[%d]", expanded.size());
                String source = path + "." + partIds.get(part);
                moved.put(target, locations.containsKey(source) ? locations.get(source) : locations.get(path));
                for (Map.Entry<String, JsonLocation> location : locations.entrySet()) {
                    if (location.getKey().startsWith(source + ".")) {
                        String rest = location.getKey().substring(source.length() + 1);
                        String[] head = rest.split("(?=[.\\[])", 2);
                        moved.put(target + "." + RecipePresets.landing(head[0]) + (head.length > 1 ? head[1] : ""), location.getValue());
                    }
                }
                expanded.add(parted.get(part));
            }
        }
        locations.keySet().removeIf(key -> key.startsWith("adapters["));
        locations.putAll(moved);
        tree.set("adapters", expanded);
    }

    private static boolean noPreset(JsonNode adapters) {
        for (JsonNode entry : adapters) {
            if (entry.isObject() && entry.has(RecipePresets.PRESET)) {
                return false;
            }
        }
        return true;
    }

    /** Copies the locations of {@code from} and the keys under it to {@code to} in {@code moved}. */
    private void moveLocations(String from, String to, Map<String, JsonLocation> moved) {
        for (Map.Entry<String, JsonLocation> location : locations.entrySet()) {
            String key = location.getKey();
            if (key.equals(from) || key.startsWith(from + ".") || key.startsWith(from + "[")) {
                moved.put(to + key.substring(from.length()), location.getValue());
            }
        }
    }

    private void checkAdapterNames(ObjectNode tree) {
        JsonNode adapters = tree.get("adapters");
        if (adapters == null || !adapters.isArray()) {
            return;
        }
        for (int index = 0; index < adapters.size(); index++) {
            JsonNode adapter = adapters.get(index);
            String path = format("adapters[%d]", index);
            if (!adapter.isObject()) {
                throw new RecipeException(format("recipe %s%s: %s must be a mapping with name, method and options, found %s", file, at(locations.get(path)), path,
                        adapter.isNull() ? "nothing" : "'" + adapter.asText() + "'"));
            }
            for (String required : List.of("name", "method")) {
                JsonNode value = adapter.get(required);
                boolean loaded = adapter.get("path") != null && !adapter.get("path").isNull();
                if ((value == null || value.isNull()) && !(required.equals("method") && loaded)) {
                    throw new RecipeException(format("recipe %s%s: %s has no '%s'; every adapter needs a name and a method (graft methods lists them), "
                            + "or a name and the path of a trained adapter folder", file, at(locations.get(path)), path, required));
                }
            }
        }
    }

    private void applyOverride(ObjectNode tree, String path, Object value) {
        List<String> valid = SCHEMA.overridablePaths();
        if (!valid.contains(path)) {
            throw new RecipeException(format("override '%s' is not a recipe field%s Overridable fields: sections task, data, training and output, as section.field, and model",
                    path, NearestName.of(path, valid).map(nearest -> format("; did you mean '%s'?", nearest)).orElse(".")));
        }
        String[] parts = path.split("\\.", 2);
        if (parts.length == 1) {
            tree.set(path, YAML.valueToTree(value));
            locations.remove(path);
            return;
        }
        JsonNode section = tree.get(parts[0]);
        if (!(section instanceof ObjectNode)) {
            section = NODES.objectNode();
            tree.set(parts[0], section);
        }
        ((ObjectNode) section).set(parts[1], YAML.valueToTree(value));
        locations.remove(path);
    }

    private Recipe bind(ObjectNode tree) {
        try {
            return YAML.treeToValue(tree, Recipe.class);
        }
        catch (ValueInstantiationException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RecipeException) {
                RecipeException invalid = (RecipeException) cause;
                String field = invalid.field().orElse(null);
                throw new RecipeException(format("recipe %s%s: %s", file, field == null ? "" : at(locations.get(field)), invalid.getMessage()), invalid);
            }
            throw new RecipeException(format("recipe %s is invalid: %s", file, cause == null ? e.getOriginalMessage() : cause.getMessage()), e);
        }
        catch (MismatchedInputException e) {
            String path = pathOf(e.getPath());
            JsonNode found = tree.at(pointerOf(e.getPath()));
            String expected = e.getTargetType() == null ? "another type" : describe(e.getTargetType());
            throw new RecipeException(format("recipe %s%s: %s must be %s, found %s", file, at(locations.get(path)), path.isEmpty() ? "the recipe" : path, expected,
                    found.isMissingNode() || found.isNull() ? "nothing" : found.isValueNode() ? "'" + found.asText() + "'" : found.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)),
                    e);
        }
        catch (JsonProcessingException e) {
            throw new RecipeException(format("recipe %s is invalid: %s", file, e.getOriginalMessage()), e);
        }
    }

    private Recipe resolvePaths(Recipe recipe) {
        Path folder = file.toAbsolutePath().getParent();
        String model = Models.isMiniLm(recipe.model()) ? recipe.model() : resolve(folder, recipe.model());
        DataSection data = recipe.data().withFiles(resolve(folder, recipe.data().train()), resolve(folder, recipe.data().validation()));
        OutputSection output = new OutputSection(resolve(folder, recipe.output().dir()), recipe.output().overwrite());
        List<RecipeAdapter> adapters = recipe.adapters().stream().map(adapter -> adapter.path() == null ? adapter : adapter.withPath(resolve(folder, adapter.path()))).toList();
        return new Recipe(model, adapters, recipe.task(), data, recipe.training(), output, recipe.composition());
    }

    private static String resolve(Path folder, String path) {
        return path == null ? null : folder.resolve(path).normalize().toString();
    }

    private static String pathOf(List<JsonMappingException.Reference> references) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference reference : references) {
            if (reference.getFieldName() != null) {
                if (path.length() > 0) {
                    path.append('.');
                }
                path.append(reference.getFieldName());
            }
            else if (reference.getIndex() >= 0) {
                path.append('[').append(reference.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String pointerOf(List<JsonMappingException.Reference> references) {
        StringBuilder pointer = new StringBuilder();
        for (JsonMappingException.Reference reference : references) {
            if (reference.getFieldName() != null) {
                pointer.append('/').append(reference.getFieldName().replace("~", "~0").replace("/", "~1"));
            }
            else if (reference.getIndex() >= 0) {
                pointer.append('/').append(reference.getIndex());
            }
        }
        return pointer.toString();
    }

    private static String describe(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "a whole number";
        }
        if (type == double.class || type == Double.class || type == float.class) {
            return "a number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "a string";
        }
        if (List.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "a mapping of fields";
        }
        return "a " + type.getSimpleName();
    }

    private static String at(JsonLocation location) {
        if (location == null || location.getLineNr() < 1) {
            return "";
        }
        return format(" line %d, column %d", location.getLineNr(), location.getColumnNr());
    }

    /** For tests: the names of every overridable path. */
    static List<String> overridablePaths() {
        return new ArrayList<>(SCHEMA.overridablePaths());
    }
}
