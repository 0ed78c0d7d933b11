package dev.graft.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.format.SafetensorsWriter;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new user trips over, through the CLI as they would meet it: the exit code and the exact line for a misspelt
 * option, an empty text, an output that cannot be written, a token id outside the vocabulary, and the help that says
 * what is required, gives examples and lists the exit codes.
 */
final class TestFirstHourMessages {
    private static final String NL = System.lineSeparator();

    @TempDir
    static Path scratch;

    private static Path model;

    @BeforeAll
    static void writeTinyLlama() {
        model = scratch.resolve("tiny");
        assertThat(run("tiny-llama", "--output", model.toString()).exitCode()).isZero();
    }

    @Test
    void testAMisspeltOptionIsNamedWithTheNearestOne() {
        Result result = run("forward", "--model", model.toString(), "--text", "hi", "--outptu", scratch.resolve("x.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft forward: Unknown option: '--outptu'. Did you mean '--output'? Run 'graft forward --help' for usage." + NL);
    }

    @Test
    void testHelpShowsRequiredOptionsExamplesAndExitCodes() {
        String forward = run("forward", "--help").out();
        assertThat(forward).contains(" --model=DIR|minilm ").doesNotContain("[--model=DIR|minilm]")
                .contains("Examples:").contains("Exit codes:").contains("  2   Bad input: an unknown or missing option");
        String merge = run("merge", "--help").out().replaceAll("\\s+", " ");
        assertThat(merge).contains(" --model=DIR ").doesNotContain("[--model=DIR]")
                .contains("required with --combination svd").contains("Exit codes:");
        assertThat(run("inspect", "--help").out().replaceAll("\\s+", " ")).contains("(--model=DIR|minilm | --recipe=FILE)");

        Result missing = run("forward", "--text", "hi", "--output", scratch.resolve("y.safetensors").toString());
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("graft forward: Missing required option: '--model=DIR|minilm'. Run 'graft forward --help' for usage." + NL);
    }

    @Test
    void testSvdWithoutItsRankIsRefusedBeforeAnyWork() {
        Result result = run("merge", "--model", model.toString(), "--adapter", scratch.toString(), "--adapter", scratch.toString(),
                "--combination", "svd", "--output", scratch.resolve("merged").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft merge: --combination svd needs --svd-rank R, the rank of the combined adapter (a whole number > 0); got 0. "
                + "Run 'graft merge --help' for usage." + NL);
        assertThat(scratch.resolve("merged")).doesNotExist();
    }

    @Test
    void testAnEmptyTextIsRefused() {
        Result result = run("forward", "--model", model.toString(), "--text", "fine", "--text", "", "--output", scratch.resolve("empty.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft forward: --text number 2 of 2 is empty; a blank text would run on the special tokens only. "
                + "Give the text to run on. Run 'graft forward --help' for usage." + NL);
        assertThat(scratch.resolve("empty.safetensors")).doesNotExist();
    }

    @Test
    void testAFolderAsOutputIsRefusedAndAMissingFolderIsCreatedWithANote() {
        Path folder = scratch.resolve("outputs");
        assertThat(folder.toFile().mkdirs()).isTrue();
        Result result = run("forward", "--model", model.toString(), "--text", "hi", "--output", folder.toString());
        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft forward: --output " + folder + " is a folder; name a file in it, e.g. " + folder.resolve("outputs.safetensors")
                + ". Run 'graft forward --help' for usage." + NL);

        Path nested = scratch.resolve("new").resolve("deeper").resolve("logits.safetensors");
        Result created = run("forward", "--model", model.toString(), "--text", "hi", "--output", nested.toString());
        assertThat(created.exitCode()).as(created.err()).isZero();
        assertThat(created.err()).isEqualTo("graft forward: created folder " + nested.getParent() + " for --output" + NL);
        assertThat(nested).exists();
    }

    @Test
    void testAnOutputThatCannotBeWrittenFailsAtOnceInWords() throws IOException, InterruptedException {
        Path locked = scratch.resolve("locked");
        Files.createDirectories(locked);
        String reason = lock(locked);
        try {
            Path output = locked.resolve("logits.safetensors");
            Result result = run("forward", "--model", model.toString(), "--text", "hi", "--output", output.toString());

            assertThat(result.exitCode()).isEqualTo(2);
            assertThat(result.err()).isEqualTo("graft forward: cannot write --output " + output + ": " + reason + " in " + locked
                    + "; choose a folder you can write to, or fix its permissions. Run 'graft forward --help' for usage." + NL);
            assertThat(result.out()).isEmpty();
        }
        finally {
            unlock(locked);
        }
        assertThat(Files.list(locked)).isEmpty();
    }

    @Test
    void testATokenIdOutsideTheVocabularyIsNamedWithItsPosition() {
        Path ids = scratch.resolve("ids.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            SafetensorsWriter.write(ids, new LinkedHashMap<>(Map.of("input_ids", manager.create(new long[][] {{1, 2, 3}, {4, 500, 6}}))), Map.of());
        }
        Result result = run("forward", "--model", model.toString(), "--input", ids.toString(), "--output", scratch.resolve("never.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).isEqualTo("graft forward: token id 500 at position (row 1, column 1) of input_ids is outside the model's vocabulary of 259 tokens "
                + "(ids 0 to 258); the ids were made with another tokenizer or for another model" + NL);
        assertThat(scratch.resolve("never.safetensors")).doesNotExist();
    }

    @Test
    void testInvalidAdapterConfigJsonNamesLineAndColumn() throws IOException {
        Path adapter = scratch.resolve("broken-adapter");
        Files.createDirectories(adapter);
        Files.writeString(adapter.resolve("adapter_config.json"), "{\n  \"peft_type\": \"LORA\",\n  \"r\": 8,,\n}\n");
        Result result = run("forward", "--model", model.toString(), "--adapter", adapter.toString(), "--text", "hi", "--output", scratch.resolve("z.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).startsWith("graft forward: " + adapter.resolve("adapter_config.json") + " is not valid JSON at line 3, column 10: ").hasLineCount(1);
    }

    /** Makes {@code folder} unwritable: by its mode for a normal user, by the immutable attribute for root (whom modes do not stop). */
    private static String lock(Path folder) throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            assertThat(folder.toFile().setWritable(false, false)).isTrue();
            return "permission denied";
        }
        Process process = new ProcessBuilder("chattr", "+i", folder.toString()).redirectErrorStream(true).start();
        assumeTrue(process.waitFor() == 0, "chattr +i is not available here, and root writes into a read-only folder");
        return "operation not permitted";
    }

    private static void unlock(Path folder) throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            folder.toFile().setWritable(true, false);
            return;
        }
        new ProcessBuilder("chattr", "-i", folder.toString()).start().waitFor();
    }

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = GraftMain.run(List.of(args), Optional.empty(), new PrintWriter(out), new PrintWriter(err));
        return new Result(exitCode, out.toString(), err.toString());
    }

    private record Result(int exitCode, String out, String err) {}
}
