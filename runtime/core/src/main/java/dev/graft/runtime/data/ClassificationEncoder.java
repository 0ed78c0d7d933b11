package dev.graft.runtime.data;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** Encodes a text and its label (by exact name) for sequence classification. */
public final class ClassificationEncoder implements ExampleEncoder {
    private final TrainingTokenizer tokenizer;
    private final String textField;
    private final String labelField;
    private final List<String> labels;

    public ClassificationEncoder(TrainingTokenizer tokenizer, String textField, String labelField, List<String> labels) {
        this.tokenizer = requireNonNull(tokenizer, "tokenizer is null");
        this.textField = requireNonNull(textField, "textField is null");
        this.labelField = requireNonNull(labelField, "labelField is null");
        this.labels = List.copyOf(labels);
    }

    @Override
    public TokenizedExample encode(int index, Example example) {
        String text = example.require(textField, format("Set data.text_field to the field that holds the text (now '%s').", textField));
        String label = example.require(labelField, format("Set data.label_field to the field that holds the label (now '%s').", labelField));
        int labelIndex = labels.indexOf(label);
        if (labelIndex < 0) {
            throw new DataException(format("%s: label '%s' is not one of the labels %s; fix the line or set task.labels", example.source(), label, labels));
        }
        TrainingTokenizer.Encoded encoded = tokenizer.encode(text);
        return new TokenizedExample(index, encoded.ids(), encoded.typeIds(), null, labelIndex);
    }

    /** The distinct labels of {@code examples}, sorted (as Hugging Face datasets' ClassLabel orders them). */
    public static List<String> labelsOf(List<Example> examples, String labelField) {
        Set<String> labels = new TreeSet<>();
        for (Example example : examples) {
            labels.add(example.require(labelField, format("Set data.label_field to the field that holds the label (now '%s').", labelField)));
        }
        if (labels.size() < 2) {
            throw new DataException(format("the training data (%s) has %s as its only label; classification needs at least two",
                    examples.isEmpty() ? "no examples" : examples.get(0).source().file(), labels));
        }
        return new ArrayList<>(labels);
    }
}
