package dev.graft.runtime.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * The {@code data:} section of a recipe: the examples and how to read them.
 * <pre>
 * data:
 *   train: data/train.jsonl      # required by graft train; resolved against the recipe's folder
 *   validation: data/val.jsonl   # default null: a seeded split of train
 *   validation_split: 0.1        # default 0.1, in [0, 1); the share of train held out when validation is null
 *   format: auto                 # auto (default: from the extension) | jsonl | csv
 *   text_field: text             # default text
 *   label_field: label           # default label
 *   prompt_field: prompt         # default prompt (causal-lm: the loss skips the prompt's tokens)
 *   completion_field: completion # default completion
 *   max_length: 128              # default 128, at least 2; longer texts are truncated
 * </pre>
 *
 * @param train the training file (JSONL or CSV)
 * @param validation the validation file, or null to split the training file
 * @param validationSplit the share of the training file held out for validation when there is no validation file
 * @param format {@code auto}, {@code jsonl} or {@code csv}
 * @param textField the field holding the text
 * @param labelField the field holding the label (classification)
 * @param promptField the field holding the prompt (causal LM)
 * @param completionField the field holding the completion (causal LM)
 * @param maxLength the most tokens per example, special tokens included
 */
public record DataSection(
        @JsonProperty("train") String train,
        @JsonProperty("validation") String validation,
        @JsonProperty("validation_split") double validationSplit,
        @JsonProperty("format") String format,
        @JsonProperty("text_field") String textField,
        @JsonProperty("label_field") String labelField,
        @JsonProperty("prompt_field") String promptField,
        @JsonProperty("completion_field") String completionField,
        @JsonProperty("max_length") int maxLength) {
    /** The data formats a recipe names. */
    public static final List<String> FORMATS = List.of("auto", "jsonl", "csv");

    public DataSection {
        FieldChecks.fraction("data.validation_split", validationSplit);
        FieldChecks.required("data.format", format);
        FieldChecks.oneOf("data.format", format, FORMATS);
        FieldChecks.required("data.text_field", textField);
        FieldChecks.required("data.label_field", labelField);
        FieldChecks.required("data.prompt_field", promptField);
        FieldChecks.required("data.completion_field", completionField);
        FieldChecks.atLeast("data.max_length", maxLength, 2);
    }

    /** Every field at its default. */
    public static DataSection defaults() {
        return new DataSection(null, null, 0.1, "auto", "text", "label", "prompt", "completion", 128);
    }

    /** This section with other data files. */
    public DataSection withFiles(String trainFile, String validationFile) {
        return new DataSection(trainFile, validationFile, validationSplit, format, textField, labelField, promptField, completionField, maxLength);
    }
}
