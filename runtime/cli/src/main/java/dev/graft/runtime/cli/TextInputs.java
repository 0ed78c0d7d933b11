package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.List;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Checks {@code --text} values: a blank text would run on the tokenizer's special tokens only, so it is refused. */
final class TextInputs {
    private TextInputs() {}

    /** Throws picocli's usage error naming the first blank {@code --text} (1-based, in the order given). */
    static void requireNonBlank(CommandSpec spec, List<String> texts) {
        requireNonNull(spec, "spec is null");
        requireNonNull(texts, "texts is null");
        for (int index = 0; index < texts.size(); index++) {
            if (texts.get(index).isBlank()) {
                throw new ParameterException(spec.commandLine(), format(
                        "--text number %d of %d is empty; a blank text would run on the special tokens only. Give the text to run on", index + 1, texts.size()));
            }
        }
    }
}
