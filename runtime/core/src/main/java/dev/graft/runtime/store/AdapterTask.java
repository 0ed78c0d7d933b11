package dev.graft.runtime.store;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How PEFT sees the model an adapter belongs to, for {@code adapter_config.json} and the checkpoint keys: PEFT's
 * {@code task_type}; the prefix of the model's module paths inside the Hugging Face class PEFT wraps for that task
 * ({@code bert.} in {@code BertForSequenceClassification}); and the modules trained in full beside the adapter
 * (PEFT's {@code modules_to_save}), with their tensors keyed by module path ({@code classifier.weight}) and saved,
 * as PEFT's {@code get_peft_model_state_dict} does, under {@code base_model.model.<module path>}.
 *
 * @param taskType PEFT's {@code task_type}
 * @param modulePrefix the prefix of the adapted modules' paths in the wrapped model, {@code ""} or ending in a dot
 * @param modulesToSave the {@code modules_to_save} to write, or empty for none (written as null)
 * @param moduleTensors the tensors of those modules, by module path
 * @param fields further Graft fields for the config (label names, pooling)
 */
public record AdapterTask(String taskType, String modulePrefix, List<String> modulesToSave, Map<String, NDArray> moduleTensors, Map<String, Object> fields) {
    /** PEFT's {@code task_type} of sequence classification. */
    public static final String SEQUENCE_CLASSIFICATION = "SEQ_CLS";
    /** The module names PEFT adds to {@code modules_to_save} for sequence classification. */
    public static final List<String> CLASSIFIER_MODULES = List.of("classifier", "score");

    public AdapterTask {
        requireNonNull(taskType, "taskType is null");
        requireNonNull(modulePrefix, "modulePrefix is null");
        modulesToSave = List.copyOf(modulesToSave);
        moduleTensors = Collections.unmodifiableMap(new LinkedHashMap<>(moduleTensors));
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** An adapter on the bare model: {@code CAUSAL_LM} for a decoder, {@code FEATURE_EXTRACTION} for an encoder; no extra modules. */
    public static AdapterTask bare(String modelType) {
        return new AdapterTask("llama".equals(modelType) ? "CAUSAL_LM" : "FEATURE_EXTRACTION", "", List.of(), Map.of(), Map.of());
    }

    /** The prefix of module paths PEFT's model class for {@code taskType} puts before a {@code modelType} model's own paths. */
    public static String modulePrefix(Object taskType, String modelType) {
        return SEQUENCE_CLASSIFICATION.equals(taskType) && "bert".equals(modelType) ? "bert." : "";
    }
}
