package dev.graft.it.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.Shape;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The base model of a PEFT adapter folder, as Python PEFT sees it: the name {@code save_pretrained} records in
 * {@code base_model_name_or_path}, the {@code task_type} of the PEFT model it was wrapped in, its weights' shapes by
 * Hugging Face key, and the {@code config.json} fields PEFT reads to size a prompt-learning adapter
 * ({@code utils.other._prepare_prompt_learning_config}).
 *
 * @param nameOrPath what {@code base_model_name_or_path} says
 * @param taskType the {@code task_type}: {@code CAUSAL_LM} for a causal LM, {@code FEATURE_EXTRACTION} for a bare encoder
 * @param shapes every weight's shape by Hugging Face key
 * @param modelConfig {@code num_hidden_layers}, {@code hidden_size}, {@code num_attention_heads} and, where the model
 *        has grouped-query attention, {@code num_key_value_heads}
 */
record PeftBase(String nameOrPath, String taskType, Map<String, Shape> shapes, Map<String, Integer> modelConfig) {
    PeftBase {
        requireNonNull(nameOrPath, "nameOrPath is null");
        requireNonNull(taskType, "taskType is null");
        shapes = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(shapes, "shapes is null")));
        modelConfig = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(modelConfig, "modelConfig is null")));
    }

    /** The width of linear module {@code module}'s output. */
    int outFeatures(String module) {
        return Math.toIntExact(weightShape(module).get(0));
    }

    /** The width of linear module {@code module}'s input. */
    int inFeatures(String module) {
        return Math.toIntExact(weightShape(module).get(1));
    }

    private Shape weightShape(String module) {
        Shape shape = shapes.get(module + ".weight");
        if (shape == null || shape.dimension() != 2) {
            throw new IllegalArgumentException(format("%s has no linear module %s", nameOrPath, module));
        }
        return shape;
    }
}
