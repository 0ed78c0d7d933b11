package dev.graft.runtime.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.model.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

final class TestTinyLlama {
    @TempDir
    Path folder;

    @Test
    void testTheWrittenFolderLoadsWithTheConfigsParameterCountAndItsTokenizer() throws IOException {
        LlamaConfig config = TinyLlama.config(2, 64, 128, 4, 2);
        Path directory = folder.resolve("tiny");
        TinyLlama.write(directory, config, 0);
        // embeddings and lm_head 259·64 each; per layer q 64·64, k and v 32·64, o 64·64, gate/up/down 3·64·128, two norms of 64; final norm 64
        long expected = 2L * 259 * 64 + 2 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64;
        assertThat(TinyLlama.parameterCount(config)).isEqualTo(expected);
        try (NDManager manager = NDManager.newBaseManager(); LoadedModel loaded = ModelLoader.load(directory, manager)) {
            assertThat(loaded.model().modelType()).isEqualTo("llama");
            assertThat(loaded.model().stateDict().values().stream().mapToLong(array -> array.getShape().size()).sum()).isEqualTo(expected);
            assertThat(loaded.endOfSequenceTokenId()).hasValue(2);
            assertThat(loaded.tokenizerJson()).isPresent();
            NDArray logits = loaded.model().forward(new ParameterStore(manager, false),
                    new NDList(manager.create(new long[][] {{1, 75, 104}}), manager.create(new int[][] {{1, 1, 1}})), false).singletonOrThrow();
            assertThat(logits.getShape().getShape()).containsExactly(1, 3, 259);
        }
    }

    @Test
    void testTheTokenizerIsByteLevelAndRoundTrips() throws IOException {
        Path directory = folder.resolve("tiny");
        TinyLlama.write(directory, TinyLlama.config(1, 32, 64, 2, 1), 0);
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(directory.resolve("tokenizer.json"))) {
            for (String text : new String[] {"Hello, world!", "naïve café – ok"}) {
                Encoding encoding = tokenizer.encode(text);
                byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
                long[] expected = new long[bytes.length + 1];
                expected[0] = 1;
                for (int index = 0; index < bytes.length; index++) {
                    expected[index + 1] = 3 + (bytes[index] & 0xFF);
                }
                assertThat(encoding.getIds()).as(text).containsExactly(expected);
                assertThat(tokenizer.decode(encoding.getIds(), true)).isEqualTo(text);
            }
        }
    }

    @Test
    void testTheSameSeedWritesTheSameBytesAndAFullFolderIsRefused() throws IOException {
        LlamaConfig config = TinyLlama.config(1, 32, 64, 2, 1);
        TinyLlama.write(folder.resolve("a"), config, 7);
        TinyLlama.write(folder.resolve("b"), config, 7);
        TinyLlama.write(folder.resolve("c"), config, 8);
        byte[] first = Files.readAllBytes(folder.resolve("a/model.safetensors"));
        assertThat(Files.readAllBytes(folder.resolve("b/model.safetensors"))).isEqualTo(first);
        assertThat(Files.readAllBytes(folder.resolve("c/model.safetensors"))).isNotEqualTo(first);
        assertThatThrownBy(() -> TinyLlama.write(folder.resolve("a"), config, 7)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(folder.resolve("a") + " exists and is not empty; choose a new folder");
        assertThatThrownBy(() -> TinyLlama.config(2, 64, 128, 5, 1)).hasMessage("--heads (5) must divide --hidden (64)");
    }
}
