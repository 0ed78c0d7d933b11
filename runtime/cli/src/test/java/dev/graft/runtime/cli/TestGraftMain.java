package dev.graft.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestGraftMain {
    @TempDir
    Path folder;

    @Test
    void testNoCommandIsBadInput() {
        Result result = run(Optional.empty());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.out()).isEmpty();
        assertThat(result.err()).isEqualTo("graft: no command given. Run 'graft --help' for usage.\n");
    }

    @Test
    void testUnknownCommandIsBadInput() {
        Result result = run(Optional.empty(), "metods");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft: Unexpected argument: 'metods'. Did you mean 'methods'? Run 'graft --help' for usage.\n");
    }

    @Test
    void testMissingPluginDirectoryIsBadInput() {
        Path missing = folder.resolve("no-such-folder");

        Result result = run(Optional.empty(), "methods", "--plugins", missing.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.out()).isEmpty();
        assertThat(result.err()).isEqualTo(String.format(
                "graft methods: Invalid value for option '--plugins' (DIR): plugin directory '%s' does not exist or is not a directory;"
                        + " pass a folder that holds plugin jars or plugin folders. Run 'graft methods --help' for usage.%n", missing));
    }

    @Test
    void testUnknownOptionIsBadInput() {
        Result result = run(Optional.empty(), "methods", "--plugin", folder.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft methods: Unknown option: '--plugin'. Did you mean '--plugins'? Run 'graft methods --help' for usage.\n");
    }

    @Test
    void testMethodsListsNothingAndNamesWhereItSearched() {
        Result result = run(Optional.empty(), "methods", "--plugins", folder.toString());

        assertThat(result.exitCode()).isZero();
        assertThat(result.err()).isEmpty();
        assertThat(result.out()).isEqualTo(String.format(
                "ID  VERSION  SPI  SITE KINDS  MERGEABLE  LOADED FROM%n(no methods loaded; searched the class path, %s)%n", folder));
    }

    @Test
    void testMethodsPrintsProblemsBelowTheTable() throws IOException {
        byte[] noise = new byte[256];
        new Random(7).nextBytes(noise);
        Path broken = Files.write(folder.resolve("broken.jar"), noise);

        Result result = run(Optional.empty(), "methods", "--plugins", folder.toString());

        assertThat(result.exitCode()).isZero();
        assertThat(result.out().lines()).hasSize(5);
        assertThat(result.out().lines().skip(2)).containsExactly(
                "",
                "1 problem:",
                "  Skipped plugin " + broken + ": the file is not a valid jar file (java.util.zip.ZipException: zip END header not found)."
                        + " Replace it with the jar the plugin's build produced, or remove it.");
    }

    @Test
    void testDistributionPluginFolderIsSearchedFirst() throws IOException {
        Path home = folder.resolve("graft");
        Files.createDirectories(home.resolve("plugins"));
        Path extra = Files.createDirectories(folder.resolve("extra"));

        Result result = run(Optional.of(home), "methods", "--plugins", extra.toString());

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains(String.format("searched the class path, %s, %s)", home.resolve("plugins"), extra));
    }

    @Test
    void testDistributionWithoutPluginFolderIsAProblem() {
        Path home = folder.resolve("graft");

        Result result = run(Optional.of(home), "methods");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).contains("  Plugin directory " + home.resolve("plugins") + " does not exist or is not a directory.");
    }

    @Test
    void testHelpListsTheMethodsCommand() {
        Result result = run(Optional.empty(), "--help");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).startsWith("Usage: graft [-hV] COMMAND").contains("  methods     Lists the PEFT methods Graft can load").contains("  train       Fine-tunes a model").contains("  tiny-llama  Writes a small Llama");
    }

    @Test
    void testVersionNamesTheSpi() {
        Result result = run(Optional.empty(), "--version");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).startsWith("graft ").endsWith(", SPI 2.2" + System.lineSeparator());
    }

    @Test
    void testTinyLlamaWritesAModelAndRefusesAFullFolder() {
        Path output = folder.resolve("tiny-llama");
        Result result = run(Optional.empty(), "tiny-llama", "--output", output.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).isEqualTo("wrote a random Llama (107,200 parameters, untrained: for trying Graft, not for real use) to " + output + System.lineSeparator());
        assertThat(output.resolve("config.json")).exists();
        assertThat(output.resolve("model.safetensors")).exists();
        assertThat(output.resolve("tokenizer.json")).exists();

        Result again = run(Optional.empty(), "tiny-llama", "--output", output.toString());
        assertThat(again.exitCode()).isEqualTo(2);
        assertThat(again.err()).isEqualTo("graft tiny-llama: " + output + " exists and is not empty; choose a new folder. Run 'graft tiny-llama --help' for usage." + System.lineSeparator());
        Result odd = run(Optional.empty(), "tiny-llama", "--output", folder.resolve("odd").toString(), "--heads", "3");
        assertThat(odd.exitCode()).isEqualTo(2);
        assertThat(odd.err()).startsWith("graft tiny-llama: --heads (3) must divide --hidden (64).");
    }

    @Test
    void testForwardWritesTheMeanPooledNormalisedSentenceEmbedding() {
        Path batched = folder.resolve("batched.safetensors");
        Result result = run(Optional.empty(), "forward", "--model", "minilm", "--text", "hello world", "--text", "a somewhat longer sentence than that",
                "--pooling", "mean", "--output", batched.toString());
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).contains("sentence_embedding (2, 384) -> " + batched);
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
                dev.graft.runtime.format.SafetensorsFile file = dev.graft.runtime.format.SafetensorsFile.open(batched)) {
            float[] embeddings = file.load("sentence_embedding", manager).toFloatArray();
            String[] texts = {"hello world", "a somewhat longer sentence than that"};
            for (int row = 0; row < 2; row++) {
                // the same text alone has no padding: the mean over all of its tokens, normalised, independently of the mask code
                Path single = folder.resolve("single" + row + ".safetensors");
                assertThat(run(Optional.empty(), "forward", "--model", "minilm", "--text", texts[row], "--output", single.toString()).exitCode()).isZero();
                try (dev.graft.runtime.format.SafetensorsFile alone = dev.graft.runtime.format.SafetensorsFile.open(single)) {
                    ai.djl.ndarray.NDArray hidden = alone.load("last_hidden_state", manager);
                    float[] mean = hidden.mean(new int[] {1}).toFloatArray();
                    double norm = 0;
                    for (float value : mean) {
                        norm += value * value;
                    }
                    norm = Math.sqrt(norm);
                    double embeddingNorm = 0;
                    for (int column = 0; column < 384; column++) {
                        assertThat((double) embeddings[row * 384 + column]).as("row %d column %d", row, column).isCloseTo(mean[column] / norm, org.assertj.core.api.Assertions.within(1e-5));
                        embeddingNorm += embeddings[row * 384 + column] * embeddings[row * 384 + column];
                    }
                    assertThat(Math.sqrt(embeddingNorm)).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-6));
                }
            }
        }
        Result pooler = run(Optional.empty(), "forward", "--model", "minilm", "--text", "x", "--pooling", "pooler", "--output", folder.resolve("p.safetensors").toString());
        assertThat(pooler.exitCode()).isEqualTo(2);
        assertThat(pooler.err()).startsWith("graft forward: --pooling is pooler, but this model has no pooler (pooler.dense); use mean or cls.");
    }

    private static Result run(Optional<Path> graftHome, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = GraftMain.run(List.of(args), graftHome, new PrintWriter(out), new PrintWriter(err));
        return new Result(exitCode, out.toString(), err.toString());
    }

    private record Result(int exitCode, String out, String err) {}
}
