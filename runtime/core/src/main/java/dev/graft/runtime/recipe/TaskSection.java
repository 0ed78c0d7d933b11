package dev.graft.runtime.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * The {@code task:} section of a recipe: what the model learns to do.
 * <pre>
 * task:
 *   type: sequence-classification   # or causal-lm; default null: sequence-classification for encoders, causal-lm for decoders
 *   labels: [ham, spam]             # default null: the sorted distinct labels of the training data
 *   pooling: auto                   # auto (default: CLS + pooler where the model has a pooler, else mean) | mean | cls | pooler
 *   classifier_dropout: 0.1         # default 0.1 (Hugging Face's hidden_dropout_prob), in [0, 1)
 * </pre>
 *
 * @param type {@code sequence-classification}, {@code causal-lm}, or null to decide from the model
 * @param labels the label names in index order, or null to take them from the training data
 * @param pooling how a classification head pools the encoder's output
 * @param classifierDropout dropout before the classification head's linear layer
 */
public record TaskSection(
        @JsonProperty("type") String type,
        @JsonProperty("labels") List<String> labels,
        @JsonProperty("pooling") String pooling,
        @JsonProperty("classifier_dropout") double classifierDropout) {
    /** The task types a recipe names. */
    public static final List<String> TYPES = List.of("sequence-classification", "causal-lm");
    /** The pooling names a recipe accepts. */
    public static final List<String> POOLINGS = List.of("auto", "mean", "cls", "pooler");

    public TaskSection {
        FieldChecks.oneOf("task.type", type, TYPES);
        labels = labels == null ? null : List.copyOf(labels);
        if (labels != null && labels.size() < 2) {
            throw RecipeException.invalidField("task.labels", String.format("task.labels needs at least 2 labels, found %s", labels));
        }
        FieldChecks.required("task.pooling", pooling);
        FieldChecks.oneOf("task.pooling", pooling, POOLINGS);
        FieldChecks.fraction("task.classifier_dropout", classifierDropout);
    }

    /** Every field at its default. */
    public static TaskSection defaults() {
        return new TaskSection(null, null, "auto", 0.1);
    }

    /** This section with {@code type} resolved. */
    public TaskSection withType(String resolvedType) {
        return new TaskSection(resolvedType, labels, pooling, classifierDropout);
    }

    /** This section with the labels resolved. */
    public TaskSection withLabels(List<String> resolvedLabels) {
        return new TaskSection(type, resolvedLabels, pooling, classifierDropout);
    }
}
