package dev.graft.runtime.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The field names a recipe accepts, derived from the records' {@code @JsonProperty} names: a record's fields, each
 * with the schema of a nested record (or list of records), or null where the value is free-form.
 *
 * @param fields field name to nested schema (null: a value, or free-form such as an adapter's options)
 * @param isList whether the value is a list of the records this schema describes
 */
record RecipeSchema(Map<String, RecipeSchema> fields, boolean isList) {
    RecipeSchema {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    static RecipeSchema of(Class<? extends Record> type) {
        return of(type, false);
    }

    @SuppressWarnings("unchecked")
    private static RecipeSchema of(Class<?> type, boolean isList) {
        Map<String, RecipeSchema> fields = new LinkedHashMap<>();
        for (RecordComponent component : type.getRecordComponents()) {
            JsonProperty property = component.getAccessor().getAnnotation(JsonProperty.class);
            String name = property == null ? component.getName() : property.value();
            RecipeSchema nested = null;
            if (component.getType().isRecord()) {
                nested = of(component.getType(), false);
            }
            else if (List.class.isAssignableFrom(component.getType())) {
                Type element = ((ParameterizedType) component.getGenericType()).getActualTypeArguments()[0];
                if (element instanceof Class && ((Class<?>) element).isRecord()) {
                    nested = of((Class<?>) element, true);
                }
            }
            fields.put(name, nested);
        }
        return new RecipeSchema(fields, isList);
    }

    /** {@code model} and {@code section.field} for every field of every section record. */
    List<String> overridablePaths() {
        List<String> paths = new ArrayList<>();
        for (Map.Entry<String, RecipeSchema> field : fields.entrySet()) {
            if (field.getValue() == null) {
                paths.add(field.getKey());
            }
            else if (!field.getValue().isList()) {
                for (String nested : field.getValue().fields().keySet()) {
                    paths.add(field.getKey() + "." + nested);
                }
            }
        }
        return List.copyOf(paths);
    }
}
