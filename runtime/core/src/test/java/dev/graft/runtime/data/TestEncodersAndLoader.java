package dev.graft.runtime.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.runtime.loader.MiniLm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The encoders and the loader with all-MiniLM-L6-v2's real tokenizer. */
final class TestEncodersAndLoader {
    private static final Path FILE = Path.of("train.jsonl");
    private static TrainingTokenizer tokenizer;

    @BeforeAll
    static void open() throws IOException {
        try (InputStream stream = MiniLm.class.getClassLoader().getResourceAsStream(MiniLm.TOKENIZER_RESOURCE)) {
            tokenizer = TrainingTokenizer.create(stream.readAllBytes(), 6);
        }
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void testTextsAreTokenizedWithSpecialTokensAndTruncatedKeepingSep() {
        assertThat(tokenizer.encode("hello world").ids()).containsExactly(101, 7592, 2088, 102);
        assertThat(tokenizer.encode("hello world hello world hello world").ids()).containsExactly(101, 7592, 2088, 7592, 2088, 102);
        assertThat(tokenizer.padTokenId()).isZero();
        assertThat(tokenizer.decode(new long[] {101, 7592, 2088, 102})).isEqualTo("hello world");
    }

    @Test
    void testClassificationEncodesTheLabelIndex() {
        ClassificationEncoder encoder = new ClassificationEncoder(tokenizer, "text", "label", List.of("ham", "spam"));
        TokenizedExample encoded = encoder.encode(3, example(1, Map.of("text", "hello world", "label", "spam")));
        assertThat(encoded.label()).isEqualTo(1);
        assertThat(encoded.index()).isEqualTo(3);
        assertThat(encoded.targets()).isNull();
        assertThatThrownBy(() -> encoder.encode(0, example(4, Map.of("text", "x", "label", "spma"))))
                .hasMessage("train.jsonl line 4: label 'spma' is not one of the labels [ham, spam]; fix the line or set task.labels");
        assertThat(ClassificationEncoder.labelsOf(List.of(example(1, Map.of("label", "spam")), example(2, Map.of("label", "ham"))), "label"))
                .containsExactly("ham", "spam");
    }

    @Test
    void testCausalTargetsCountOnlyTheCompletionAndTheEnd() {
        CausalLmEncoder encoder = new CausalLmEncoder(tokenizer, "text", "prompt", "completion", OptionalLong.of(2));
        TokenizedExample encoded = encoder.encode(0, example(1, Map.of("prompt", "hello", "completion", "world")));
        // [CLS] hello [SEP] | world | eos
        assertThat(encoded.inputIds()).containsExactly(101, 7592, 102, 2088, 2);
        assertThat(encoded.targets()).containsExactly(-100, -100, -100, 2088, 2);
        TokenizedExample text = encoder.encode(1, example(2, Map.of("text", "hello")));
        assertThat(text.targets()).containsExactly(text.inputIds());
        assertThatThrownBy(() -> encoder.encode(0, example(7, Map.of("prompt", "hello world hello world hello", "completion", "x"))))
                .hasMessageStartingWith("train.jsonl line 7: after truncation to data.max_length 6 nothing of the completion is left");
        assertThatThrownBy(() -> encoder.encode(0, example(8, Map.of("body", "x"))))
                .hasMessageStartingWith("train.jsonl line 8: the line has neither 'text' nor 'prompt' and 'completion' (it has [body])");
    }

    @Test
    void testLoaderYieldsThePaddedSlicesFromTheFirstBatchOn() {
        List<Example> examples = new ArrayList<>();
        String[] texts = {"hello", "hello world", "world", "hello hello world", "world world"};
        for (int index = 0; index < texts.length; index++) {
            examples.add(example(index + 1, Map.of("text", texts[index], "label", index % 2 == 0 ? "ham" : "spam")));
        }
        ClassificationEncoder encoder = new ClassificationEncoder(tokenizer, "text", "label", List.of("ham", "spam"));
        int[] order = {4, 2, 0, 1, 3};
        List<PaddedBatch> batches = new ArrayList<>();
        try (BatchLoader loader = BatchLoader.start(examples, order, 2, 1, encoder, 0, 2)) {
            loader.forEachRemaining(batches::add);
        }
        assertThat(batches).hasSize(2);
        PaddedBatch first = batches.get(0);
        assertThat(first.exampleIndexes()).containsExactly(0, 1);
        assertThat(first.inputIds()).isDeepEqualTo(new long[][] {{101, 7592, 102, 0}, {101, 7592, 2088, 102}});
        assertThat(first.attentionMask()).isDeepEqualTo(new long[][] {{1, 1, 1, 0}, {1, 1, 1, 1}});
        assertThat(first.labels()).containsExactly(0, 1);
        assertThat(first.tokens()).isEqualTo(7);
        assertThat(batches.get(1).exampleIndexes()).containsExactly(3);
        assertThat(BatchLoader.batchCount(5, 2)).isEqualTo(3);
    }

    @Test
    void testLoaderRethrowsTheEncodersErrorAndStopsItsThreadOnClose() {
        List<Example> examples = new ArrayList<>();
        for (int index = 0; index < 200; index++) {
            examples.add(example(index + 1, Map.of("text", "hello", "label", index == 5 ? "other" : "ham")));
        }
        ClassificationEncoder encoder = new ClassificationEncoder(tokenizer, "text", "label", List.of("ham", "spam"));
        int[] order = java.util.stream.IntStream.range(0, 200).toArray();
        try (BatchLoader loader = BatchLoader.start(examples, order, 4, 0, encoder, 0, 2)) {
            loader.next();
            assertThatThrownBy(loader::next).isInstanceOf(DataException.class)
                    .hasMessage("train.jsonl line 6: label 'other' is not one of the labels [ham, spam]; fix the line or set task.labels");
        }
        try (BatchLoader loader = BatchLoader.start(examples.subList(10, 200), java.util.stream.IntStream.range(0, 190).toArray(), 1, 0, encoder, 0, 2)) {
            loader.next();
        }
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(thread -> thread.getName().equals("graft-batch-loader") && thread.isAlive());
    }

    private static Example example(long line, Map<String, String> fields) {
        return new Example(new SourceLine(FILE, line), fields);
    }
}
