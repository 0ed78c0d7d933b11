package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.integration.GraftCli.Result;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invalid recipe values, each through the real {@code graft train} entry on MiniLM or a tiny Llama: each is rejected
 * with one line on standard error that names the option, the value and the valid values (the
 * bound, the allowed keys, the model's module names), before anything is trained or saved.
 */
final class TestConfigErrors {
    /**
     * One invalid recipe: the model, its one adapter, extra recipe lines (indented: more of {@code data}; else a
     * top-level section) and the fragments the one error line must hold.
     */
    private record Case(String name, String model, String adapters, String extra, List<String> fragments) {}

    private static final String MINILM = "minilm";
    private static final String LLAMA = "tiny-llama";
    private static final String NO_EXTRA = "";

    private static final List<Case> CASES = List.of(
            new Case("lora r zero", MINILM, "{name: a, method: lora, target_modules: [query], options: {r: 0}}", NO_EXTRA,
                    List.of("option 'r' is 0", "must be a whole number >= 1")),
            new Case("lora r negative", MINILM, "{name: a, method: lora, target_modules: [query], options: {r: -4}}", NO_EXTRA,
                    List.of("option 'r' is -4", "must be a whole number >= 1")),
            new Case("lora r larger than the layer", MINILM, "{name: a, method: lora, target_modules: [query], options: {r: 1000}}", NO_EXTRA,
                    List.of("option 'r' is 1000", "at most 384", "min(in 384, out 384)")),
            new Case("lora negative alpha", MINILM, "{name: a, method: lora, target_modules: [query], options: {lora_alpha: -16}}", NO_EXTRA,
                    List.of("option 'lora_alpha' is -16", "> 0")),
            new Case("vera r zero", MINILM, "{name: a, method: vera, target_modules: [query], options: {r: 0}}", NO_EXTRA,
                    List.of("Method 'vera': option 'r' is 0", "must be a whole number >= 1")),
            new Case("unknown option key", MINILM, "{name: a, method: lora, target_modules: [query], options: {rank: 8}}", NO_EXTRA,
                    List.of("has no option 'rank'", "Allowed options: r, lora_alpha")),
            new Case("targets that match nothing", MINILM, "{name: a, method: lora, target_modules: [quer]}", NO_EXTRA,
                    List.of("Target modules [quer] not found", "their names end in [query, key, value, dense]")),
            new Case("llama targets that match nothing", LLAMA, "{name: a, method: lora, target_modules: [q_prj]}", "task: {type: causal-lm}",
                    List.of("Target modules [q_prj] not found", "their names end in [q_proj, k_proj")),
            new Case("ia3 feed-forward module outside the targets", MINILM,
                    "{name: a, method: ia3, target_modules: [key, value], options: {feedforward_modules: [output.dense]}}", NO_EXTRA,
                    List.of("option 'feedforward_modules' is [output.dense]", "must be a subset of the target modules", "matches none of the targets")),
            new Case("unknown composition", MINILM, "{name: a, method: lora, target_modules: [query], composition: gatd}", NO_EXTRA,
                    List.of("composition", "gatd", "gated")),
            new Case("unknown method", MINILM, "{name: a, method: lroa, target_modules: [query]}", NO_EXTRA,
                    List.of("lroa", "lora")),
            new Case("unknown task type", MINILM, "{name: a, method: lora, target_modules: [query]}", "task: {type: clasification}",
                    List.of("clasification", "classification")),
            new Case("data field that does not exist", MINILM, "{name: a, method: lora, target_modules: [query]}", "  text_field: txt",
                    List.of("txt", "text")),
            new Case("label field that does not exist", MINILM, "{name: a, method: lora, target_modules: [query]}", "  label_field: lable",
                    List.of("lable", "label")));

    @TempDir
    static Path scratch;

    private static Path examples;
    private static Path llama;

    @BeforeAll
    static void prepare() {
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        llama = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", llama.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
    }

    @Test
    void testEveryInvalidValueIsOneLineNamingTheOptionTheValueAndTheNearestValid() throws IOException {
        SoftAssertions softly = new SoftAssertions();
        for (int index = 0; index < CASES.size(); index++) {
            Case invalid = CASES.get(index);
            boolean causal = invalid.model().equals(LLAMA);
            Path recipe = Files.writeString(scratch.resolve("case-" + index + ".yaml"), String.join("\n",
                    "model: " + (causal ? llama.toString() : invalid.model()),
                    "adapters:",
                    "  - " + invalid.adapters(),
                    "data:",
                    "  train: " + examples.resolve(causal ? "data/uppercase/train.jsonl" : "data/spam-assassin/train.jsonl"),
                    "  validation: " + examples.resolve(causal ? "data/uppercase/validation.jsonl" : "data/spam-assassin/validation.jsonl"),
                    // indented: more of the data section; else a top-level section
                    invalid.extra(),
                    ""));
            Path run = scratch.resolve("run-" + index);

            Result result = graft("train", recipe.toString(), "--max-steps", "1", "--batch-size", "2", "--output", run.toString());

            // targets that select nothing are a TargetingException, which GraftException classes as a failure (exit 1)
            int exitCode = invalid.name().endsWith("match nothing") ? 1 : 2;
            softly.assertThat(result.exitCode()).as("%s: exit code; stderr: %s", invalid.name(), result.err()).isEqualTo(exitCode);
            softly.assertThat(result.err()).as("%s", invalid.name()).hasLineCount(1);
            for (String fragment : invalid.fragments()) {
                softly.assertThat(result.err()).as("%s", invalid.name()).contains(fragment);
            }
            softly.assertThat(run.resolve("adapter")).as("%s: nothing trained or saved", invalid.name()).doesNotExist();
        }
        softly.assertAll();
    }
}
