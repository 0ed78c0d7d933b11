package dev.graft.runtime.store;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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

    /**
     * Why Graft cannot load an adapter with PEFT's {@code task_type} onto a {@code modelType} model, as one sentence
     * naming the value and what Graft would need; empty when it can. {@code SEQ_CLS} maps to the classification head
     * ({@code classifier} on BERT, {@code score} on Llama, from {@code modules_to_save}); {@code CAUSAL_LM} to a
     * Llama-family decoder's language-model head; {@code FEATURE_EXTRACTION} and no {@code task_type} to the bare model's
     * hidden states. {@code TOKEN_CLS}, {@code QUESTION_ANS} and {@code SEQ_2_SEQ_LM} need heads or models Graft does not
     * have.
     */
    public static Optional<String> unsupportedTaskType(Object taskType, String modelType) {
        if (taskType == null || SEQUENCE_CLASSIFICATION.equals(taskType) || "FEATURE_EXTRACTION".equals(taskType)) {
            return Optional.empty();
        }
        if ("CAUSAL_LM".equals(taskType)) {
            return "llama".equals(modelType) ? Optional.empty() : Optional.of(format(
                    "task_type CAUSAL_LM is for a decoder with its language-model head (PEFT wraps AutoModelForCausalLM), but this model is a %s encoder: "
                            + "Graft would need a causal language-model head for it; load the adapter onto a Llama-family model", modelType));
        }
        if ("TOKEN_CLS".equals(taskType)) {
            return Optional.of("task_type TOKEN_CLS needs a token-classification head (PEFT wraps AutoModelForTokenClassification and trains its per-token classifier): "
                    + "Graft would need that head; it has SEQ_CLS, CAUSAL_LM and FEATURE_EXTRACTION");
        }
        if ("QUESTION_ANS".equals(taskType)) {
            return Optional.of("task_type QUESTION_ANS needs a span head (PEFT wraps AutoModelForQuestionAnswering and trains its qa_outputs): "
                    + "Graft would need that head; it has SEQ_CLS, CAUSAL_LM and FEATURE_EXTRACTION");
        }
        if ("SEQ_2_SEQ_LM".equals(taskType)) {
            return Optional.of("task_type SEQ_2_SEQ_LM is for encoder-decoder models (T5, BART; PEFT wraps AutoModelForSeq2SeqLM): "
                    + "Graft would need an encoder-decoder model; it runs BERT-family encoders and Llama-family decoders");
        }
        return Optional.of(format("task_type %s is none of PEFT's (SEQ_CLS, CAUSAL_LM, FEATURE_EXTRACTION, TOKEN_CLS, QUESTION_ANS, SEQ_2_SEQ_LM); "
                + "Graft loads SEQ_CLS, CAUSAL_LM, FEATURE_EXTRACTION or none", taskType instanceof String ? "\"" + taskType + "\"" : taskType));
    }

    /** The prefix of module paths PEFT's model class for {@code taskType} puts before a {@code modelType} model's own paths. */
    public static String modulePrefix(Object taskType, String modelType) {
        return SEQUENCE_CLASSIFICATION.equals(taskType) && "bert".equals(modelType) ? "bert." : "";
    }
}
