package dev.graft.runtime.recipe;

import static java.lang.String.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Named combinations of adapters that a recipe's adapters entry {@code {preset: NAME}} expands to, before the recipe is
 * checked and bound. One preset exists:
 * <ul>
 * <li>{@code unipelt}: AdapterHub's {@code UniPELTConfig}, i.e. prefix tuning with 10 virtual tokens trained through
 * AdapterHub's MLP ({@code prefix_projection} with a hidden width of 512), a Pfeiffer bottleneck adapter with
 * reduction factor 16 and LoRA r=8 on the method's default targets (query/value on BERT, q_proj/v_proj on Llama), all
 * three gated. The adapters are named {@code unipelt_prefix}, {@code unipelt_adapter} and {@code unipelt_lora}.</li>
 * </ul>
 * Every part is overridable by a mapping under its method id ({@code prefix}, {@code adapter}, {@code lora}): the
 * adapter fields ({@code name}, {@code composition}, {@code target_modules}, {@code exclude_modules},
 * {@code layers_to_transform}, {@code layers_pattern}) replace the preset's, {@code options} and every other key are
 * method options merged over the preset's.
 */
public final class RecipePresets {
    /** The key of an adapters entry that names a preset. */
    public static final String PRESET = "preset";
    /** The preset names. */
    public static final Set<String> NAMES = Set.of("unipelt");

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> ADAPTER_FIELDS = Set.of("name", "composition", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern");
    private static final String OPTIONS = "options";

    private RecipePresets() {}

    /** The parts of a preset, by method id in attachment order: each an adapters entry (name, method, composition, options). */
    static Map<String, ObjectNode> parts(String preset) {
        if (!preset.equals("unipelt")) {
            throw new IllegalArgumentException(format("unknown preset '%s'", preset));
        }
        Map<String, ObjectNode> parts = new LinkedHashMap<>();
        parts.put("prefix", part("unipelt_prefix", "prefix", options("num_virtual_tokens", 10, "prefix_projection", true, "encoder_hidden_size", 512)));
        parts.put("adapter", part("unipelt_adapter", "adapter", options("config", "pfeiffer", "reduction_factor", 16)));
        parts.put("lora", part("unipelt_lora", "lora", options("r", 8)));
        return parts;
    }

    /** Where each key of an override lands in the expanded entry: {@code field} or {@code options.key}. */
    static String landing(String key) {
        return ADAPTER_FIELDS.contains(key) || key.equals(OPTIONS) ? key : OPTIONS + "." + key;
    }

    /**
     * The adapters entries the preset becomes with {@code overrides} (part id to mapping) applied, each marked
     * {@code from_preset}.
     */
    static List<ObjectNode> expand(String preset, Map<String, ObjectNode> overrides) {
        List<ObjectNode> expanded = new ArrayList<>();
        for (Map.Entry<String, ObjectNode> part : parts(preset).entrySet()) {
            ObjectNode entry = part.getValue();
            ObjectNode override = overrides.get(part.getKey());
            if (override != null) {
                ObjectNode options = (ObjectNode) entry.get(OPTIONS);
                Iterator<Map.Entry<String, JsonNode>> fields = override.fields();
                while (fields.hasNext()) {
                    Map.Entry<String, JsonNode> field = fields.next();
                    if (field.getKey().equals(OPTIONS) && field.getValue().isObject()) {
                        options.setAll((ObjectNode) field.getValue());
                    }
                    else if (ADAPTER_FIELDS.contains(field.getKey()) || field.getKey().equals(OPTIONS)) {
                        entry.set(field.getKey(), field.getValue());
                    }
                    else {
                        options.set(field.getKey(), field.getValue());
                    }
                }
            }
            entry.put(RecipeAdapter.FROM_PRESET, preset);
            expanded.add(entry);
        }
        return expanded;
    }

    private static ObjectNode part(String name, String method, ObjectNode options) {
        ObjectNode entry = NODES.objectNode();
        entry.put("name", name);
        entry.put("method", method);
        entry.put("composition", "gated");
        entry.set(OPTIONS, options);
        return entry;
    }

    private static ObjectNode options(Object... keysAndValues) {
        ObjectNode options = NODES.objectNode();
        for (int index = 0; index < keysAndValues.length; index += 2) {
            Object value = keysAndValues[index + 1];
            String key = (String) keysAndValues[index];
            if (value instanceof Integer) {
                options.put(key, (Integer) value);
            }
            else if (value instanceof Boolean) {
                options.put(key, (Boolean) value);
            }
            else {
                options.put(key, (String) value);
            }
        }
        return options;
    }
}
