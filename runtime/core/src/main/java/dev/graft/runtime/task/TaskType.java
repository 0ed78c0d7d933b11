package dev.graft.runtime.task;

import static java.lang.String.format;

import java.util.Arrays;
import java.util.stream.Collectors;

/** What a model is fine-tuned for, by its recipe name and the {@code task_type} PEFT writes in {@code adapter_config.json}. */
public enum TaskType {
    /** A label per text, from a classification head on a BERT-family encoder. */
    SEQUENCE_CLASSIFICATION("sequence-classification", "SEQ_CLS"),
    /** Next-token prediction with a Llama-family decoder's language-model head. */
    CAUSAL_LM("causal-lm", "CAUSAL_LM");

    private final String recipeName;
    private final String peftTaskType;

    TaskType(String recipeName, String peftTaskType) {
        this.recipeName = recipeName;
        this.peftTaskType = peftTaskType;
    }

    /** The name in a recipe's {@code task.type}. */
    public String recipeName() {
        return recipeName;
    }

    /** PEFT's {@code task_type}. */
    public String peftTaskType() {
        return peftTaskType;
    }

    /** The task of {@code recipeName}, or the model type's natural task when it is {@code null}. */
    public static TaskType resolve(String recipeName, String modelType) {
        if (recipeName == null) {
            return "llama".equals(modelType) ? CAUSAL_LM : SEQUENCE_CLASSIFICATION;
        }
        for (TaskType type : values()) {
            if (type.recipeName.equals(recipeName)) {
                type.check(modelType);
                return type;
            }
        }
        throw new IllegalArgumentException(format("unknown task.type '%s'; use %s", recipeName,
                Arrays.stream(values()).map(TaskType::recipeName).collect(Collectors.joining(" or "))));
    }

    /** The task of PEFT's {@code task_type}, if Graft has it. */
    public static java.util.Optional<TaskType> ofPeftTaskType(Object taskType) {
        return Arrays.stream(values()).filter(type -> type.peftTaskType.equals(taskType)).findFirst();
    }

    private void check(String modelType) {
        boolean decoder = "llama".equals(modelType);
        if (this == SEQUENCE_CLASSIFICATION && decoder) {
            throw new IllegalArgumentException("task.type sequence-classification needs a BERT-family encoder; this recipe's model is a Llama-family decoder: use causal-lm");
        }
        if (this == CAUSAL_LM && !decoder) {
            throw new IllegalArgumentException(format("task.type causal-lm needs a Llama-family decoder; this recipe's model is a %s encoder: use sequence-classification", modelType));
        }
    }
}
