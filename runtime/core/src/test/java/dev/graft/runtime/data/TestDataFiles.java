package dev.graft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestDataFiles {
    @TempDir
    Path folder;

    @Test
    void testJsonLinesBecomeStringFieldsWithTheirLineNumbers() throws IOException {
        Path file = write("train.jsonl", "\uFEFF{\"text\": \"hello\", \"label\": 1}\n\n{\"text\": \"bye\", \"label\": true, \"note\": null}\n");
        List<Example> examples = DataFiles.read(file, DataFormat.AUTO);
        assertThat(examples).hasSize(2);
        assertThat(examples.get(0).fields()).isEqualTo(Map.of("text", "hello", "label", "1"));
        assertThat(examples.get(1).fields()).containsExactly(Map.entry("text", "bye"), Map.entry("label", "true"));
        assertThat(examples.get(1).source().toString()).isEqualTo(file + " line 3");
    }

    @Test
    void testInvalidJsonNamesTheLineAndColumn() throws IOException {
        Path file = write("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\",, }\n");
        assertThatThrownBy(() -> DataFiles.read(file, DataFormat.JSONL)).isInstanceOf(DataException.class)
                .hasMessageStartingWith(file + " line 3: not valid JSON (").hasMessageEndingWith("column 14)");
    }

    @Test
    void testANumberBeyondExactDecimalRangeIsNamedNotThrown() throws IOException {
        // crasher found by TestDataFilesFuzzing: Jackson's BigDecimal refused the exponent with a NumberFormatException
        Path file = write("huge.jsonl", "{\"text\": 1e999999992222222222222222222222222222222, \"label\": 0}\n");
        assertThatThrownBy(() -> DataFiles.read(file, DataFormat.JSONL)).isInstanceOf(DataException.class)
                .hasMessageStartingWith(file + " line 1: a number is out of range (");
    }

    @Test
    void testNestedValuesAndMissingFieldsAreNamed() throws IOException {
        Path nested = write("nested.jsonl", "{\"text\": [\"a\"]}\n");
        assertThatThrownBy(() -> DataFiles.read(nested, DataFormat.JSONL))
                .hasMessage(nested + " line 1: field 'text' holds an array; a field must be a string, a number or a boolean");
        Example example = DataFiles.read(write("ok.jsonl", "{\"txt\": \"a\"}\n{\"lbl\": \"b\"}\n"), DataFormat.JSONL).get(1);
        assertThatThrownBy(() -> example.require("label", "Set data.label_field."))
                .hasMessage(folder.resolve("ok.jsonl") + " line 2: field 'label' is missing; the line has fields [lbl]. Set data.label_field.");
    }

    @Test
    void testCsvRecordsSpanningLinesKeepTheLineTheyStartOn() throws IOException {
        Path file = write("train.csv", "text,label\n\"two\nlines\",ham\nplain,spam\nbroken\n");
        assertThatThrownBy(() -> DataFiles.read(file, DataFormat.AUTO))
                .hasMessage(file + " line 5: 1 columns, but the header (line 1) has 2: [text, label]");
        List<Example> examples = DataFiles.read(write("good.csv", "text,label\n\"two\nlines\",ham\nplain,spam\n"), DataFormat.CSV);
        assertThat(examples.get(0).fields()).containsEntry("text", "two\nlines").containsEntry("label", "ham");
        assertThat(examples.get(0).source().line()).isEqualTo(2);
        assertThat(examples.get(1).source().line()).isEqualTo(4);
    }

    @Test
    void testEmptyFilesAndUnknownExtensionsAreRefused() throws IOException {
        Path empty = write("empty.jsonl", "\n\n");
        assertThatThrownBy(() -> DataFiles.read(empty, DataFormat.AUTO)).hasMessage("data file " + empty + " holds no examples");
        Path text = write("data.txt", "x");
        assertThatThrownBy(() -> DataFiles.read(text, DataFormat.AUTO))
                .hasMessage(text + ": cannot tell the format from the extension; name it .jsonl or .csv, or set data.format to jsonl or csv");
    }

    @Test
    void testSplitsAreSeededAndKeepFileOrder() throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int index = 0; index < 20; index++) {
            lines.append("{\"text\": \"").append(index).append("\"}\n");
        }
        List<Example> examples = DataFiles.read(write("twenty.jsonl", lines.toString()), DataFormat.JSONL);
        DataSplit.Split split = DataSplit.split(examples, 0.25, 7);
        assertThat(split.validation()).hasSize(5);
        assertThat(split.train()).hasSize(15);
        assertThat(split.train().stream().mapToLong(example -> example.source().line())).isSorted();
        assertThat(DataSplit.split(examples, 0.25, 7)).isEqualTo(split);
        assertThat(DataSplit.split(examples, 0.25, 8).validation()).isNotEqualTo(split.validation());
        int[] order = DataSplit.epochOrder(20, 7, 1);
        assertThat(order).containsExactlyInAnyOrder(java.util.stream.IntStream.range(0, 20).toArray()).isEqualTo(DataSplit.epochOrder(20, 7, 1))
                .isNotEqualTo(DataSplit.epochOrder(20, 7, 2));
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(folder.resolve(name), text);
    }
}
