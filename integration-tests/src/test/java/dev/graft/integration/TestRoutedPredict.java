package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.integration.GraftCli.Result;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * {@code graft predict --adapter-column}: several runs of {@code graft train} (real plugins, tiny scale) on one base
 * model, each input line routed to the adapter its field names, equal to predicting with each adapter alone on its
 * lines; the refusals are one line with exit code 2.
 */
final class TestRoutedPredict {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path scratch;

    private static Path examples;
    /** 8 ham and 8 spam lines of the SpamAssassin validation file. */
    private static Path spamData;
    /** The same lines labelled ok and junk. */
    private static Path relabeledData;
    /** A LoRA run on MiniLM with labels ham, spam. */
    private static Path spamRun;
    /** An IA3 run on MiniLM with labels junk, ok. */
    private static Path relabeledRun;
    private static Path tinyLlama;

    @BeforeAll
    static void prepare() throws IOException {
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        List<String> ham = new ArrayList<>();
        List<String> spam = new ArrayList<>();
        for (String line : Files.readAllLines(examples.resolve("data/spam-assassin/validation.jsonl"))) {
            (JSON.readTree(line).get("label").asText().equals("spam") ? spam : ham).add(line);
        }
        List<String> lines = new ArrayList<>(ham.subList(0, 8));
        lines.addAll(spam.subList(0, 8));
        spamData = Files.write(scratch.resolve("spam.jsonl"), lines);
        List<String> relabeled = new ArrayList<>();
        for (String line : lines) {
            ObjectNode node = (ObjectNode) JSON.readTree(line);
            node.put("label", node.get("label").asText().equals("spam") ? "junk" : "ok");
            relabeled.add(JSON.writeValueAsString(node));
        }
        relabeledData = Files.write(scratch.resolve("relabeled.jsonl"), relabeled);
        spamRun = train(examples.resolve("lora.yaml"), "spam", spamData, "--learning-rate", "5e-3");
        relabeledRun = train(examples.resolve("ia3.yaml"), "relabeled", relabeledData);
        tinyLlama = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", tinyLlama.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
    }

    private static Path train(Path recipe, String name, Path data, String... more) {
        Path output = scratch.resolve(name);
        List<String> args = new ArrayList<>(List.of("train", recipe.toString(), "--max-steps", "2", "--batch-size", "4",
                "--train", data.toString(), "--validation", data.toString(), "--output", output.toString()));
        args.addAll(List.of(more));
        Result result = graft(args.toArray(new String[0]));
        assertThat(result.exitCode()).as(result.err()).isZero();
        return output;
    }

    @Test
    void testRoutedClassificationEqualsEachAdapterAloneWithItsOwnLabels() throws IOException {
        List<String> mixed = new ArrayList<>();
        List<String> spamLines = new ArrayList<>();
        List<String> relabeledLines = new ArrayList<>();
        List<String> texts = Files.readAllLines(spamData);
        for (int index = 0; index < texts.size(); index++) {
            ObjectNode node = (ObjectNode) JSON.readTree(texts.get(index));
            // ham and spam lines of both adapters, in an order that mixes adapters inside each batch of 5
            String adapter = index % 3 == 0 ? "relabeled" : "spam";
            (adapter.equals("spam") ? spamLines : relabeledLines).add(texts.get(index));
            node.put("task", adapter);
            mixed.add(JSON.writeValueAsString(node));
        }
        Path mixedFile = Files.write(scratch.resolve("mixed.jsonl"), mixed);
        Path routedFile = scratch.resolve("routed.jsonl");
        Result routed = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.resolve("adapter").toString(), "--adapter-column", "task",
                "--input", mixedFile.toString(), "--batch-size", "5", "--output", routedFile.toString());
        assertThat(routed.exitCode()).as(routed.err()).isZero();
        List<JsonNode> routedLines = jsonLines(routedFile);
        assertThat(routedLines).hasSize(16);

        List<JsonNode> spamAlone = predictAlone(spamRun, spamLines, "spam-alone");
        List<JsonNode> relabeledAlone = predictAlone(relabeledRun, relabeledLines, "relabeled-alone");
        Iterator<JsonNode> spamNext = spamAlone.iterator();
        Iterator<JsonNode> relabeledNext = relabeledAlone.iterator();
        for (int index = 0; index < routedLines.size(); index++) {
            JsonNode line = routedLines.get(index);
            String adapter = index % 3 == 0 ? "relabeled" : "spam";
            JsonNode alone = (adapter.equals("spam") ? spamNext : relabeledNext).next();
            assertThat(line.get("adapter").asText()).as("line %d", index + 1).isEqualTo(adapter);
            assertThat(line.get("text").asText()).as("line %d", index + 1).isEqualTo(alone.get("text").asText());
            assertThat(line.get("label").asText()).as("line %d", index + 1).isEqualTo(alone.get("label").asText());
            List<String> labels = new ArrayList<>();
            line.get("probabilities").fieldNames().forEachRemaining(labels::add);
            assertThat(labels).as("line %d: its own adapter's labels", index + 1).containsExactlyElementsOf(adapter.equals("spam") ? List.of("ham", "spam") : List.of("junk", "ok"));
            for (String label : labels) {
                assertThat(line.get("probabilities").get(label).asDouble()).as("line %d, %s", index + 1, label)
                        .isCloseTo(alone.get("probabilities").get(label).asDouble(), within(1e-5));
            }
        }
        assertThat(spamNext.hasNext()).isFalse();
        assertThat(relabeledNext.hasNext()).isFalse();
    }

    @Test
    void testRoutedCompletionsEqualEachAdapterAloneAndTheBaseModelForAnEmptyField() throws IOException {
        Path first = train(examples.resolve("llama-causal-lm.yaml"), "llama-first", examples.resolve("data/uppercase/train.jsonl"),
                "--model", tinyLlama.toString(), "--learning-rate", "5e-2");
        Path second = train(examples.resolve("llama-causal-lm.yaml"), "llama-second", examples.resolve("data/uppercase/train.jsonl"),
                "--model", tinyLlama.toString(), "--learning-rate", "1e-2", "--seed", "7");
        List<String> prompts = Files.readAllLines(examples.resolve("data/uppercase/validation.jsonl")).subList(0, 5);
        List<String> adapters = List.of("llama-first", "llama-second", "", "llama-second", "llama-first");
        List<String> mixed = new ArrayList<>();
        for (int index = 0; index < prompts.size(); index++) {
            ObjectNode node = (ObjectNode) JSON.readTree(prompts.get(index));
            if (!adapters.get(index).isEmpty()) {
                node.put("adapter", adapters.get(index));
            }
            mixed.add(JSON.writeValueAsString(node));
        }
        Path mixedFile = Files.write(scratch.resolve("mixed-prompts.jsonl"), mixed);
        Path routedFile = scratch.resolve("routed-prompts.jsonl");
        Result routed = graft("predict", "--adapter", first.toString(), "--adapter", second.toString(), "--adapter-column", "adapter",
                "--input", mixedFile.toString(), "--max-new-tokens", "6", "--output", routedFile.toString());
        assertThat(routed.exitCode()).as(routed.err()).isZero();
        List<JsonNode> routedLines = jsonLines(routedFile);
        assertThat(routedLines).hasSize(5);
        for (int index = 0; index < prompts.size(); index++) {
            JsonNode line = routedLines.get(index);
            assertThat(line.get("prompt").asText()).isEqualTo(JSON.readTree(prompts.get(index)).get("prompt").asText());
            if (adapters.get(index).isEmpty()) {
                assertThat(line.get("adapter").isNull()).as("line %d runs the base model", index + 1).isTrue();
                continue;
            }
            assertThat(line.get("adapter").asText()).isEqualTo(adapters.get(index));
            Path run = adapters.get(index).equals("llama-first") ? first : second;
            Path single = Files.write(scratch.resolve("prompt-" + index + ".jsonl"), List.of(prompts.get(index)));
            Path alone = scratch.resolve("prompt-" + index + "-alone.jsonl");
            Result result = graft("predict", "--adapter", run.toString(), "--input", single.toString(), "--max-new-tokens", "6", "--output", alone.toString());
            assertThat(result.exitCode()).as(result.err()).isZero();
            assertThat(line.get("completion").asText()).as("line %d", index + 1).isEqualTo(jsonLines(alone).get(0).get("completion").asText());
        }
        // a base row and an adapter row give the same completions whatever the order of the adapters and the other lines
        Path baseOnly = Files.write(scratch.resolve("base-prompt.jsonl"), List.of(mixed.get(2), mixed.get(0)));
        Path baseRouted = scratch.resolve("base-routed.jsonl");
        Result base = graft("predict", "--adapter", second.toString(), "--adapter", first.toString(), "--adapter-column", "adapter",
                "--input", baseOnly.toString(), "--max-new-tokens", "6", "--output", baseRouted.toString());
        assertThat(base.exitCode()).as(base.err()).isZero();
        assertThat(jsonLines(baseRouted).get(0).get("completion").asText()).isEqualTo(routedLines.get(2).get("completion").asText());
        assertThat(jsonLines(baseRouted).get(1).get("completion").asText()).isEqualTo(routedLines.get(0).get("completion").asText());

        Result differentBases = graft("predict", "--adapter", spamRun.toString(), "--adapter", first.toString(), "--adapter-column", "adapter",
                "--input", mixedFile.toString());
        assertThat(differentBases.exitCode()).isEqualTo(2);
        assertThat(differentBases.err().strip()).hasLineCount(1).contains("the adapters were made for different base models: minilm for " + spamRun)
                .contains(" for " + first);
    }

    @Test
    void testRefusalsAreOneLineAndExitTwo() throws IOException {
        Path unknown = Files.write(scratch.resolve("unknown.jsonl"), List.of(
                "{\"text\": \"hello\", \"task\": \"spam\"}", "{\"text\": \"hi\", \"task\": \"relabeled\"}", "{\"text\": \"hey\", \"task\": \"nope\"}"));
        Result result = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.toString(), "--adapter-column", "task", "--input", unknown.toString());
        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err().strip()).hasLineCount(1)
                .contains(unknown + " line 3: field 'task' names adapter 'nope', which is not loaded; loaded adapters: [spam, relabeled]");

        Path empty = Files.write(scratch.resolve("empty.jsonl"), List.of("{\"text\": \"hello\", \"task\": \"spam\"}", "{\"text\": \"hi\"}"));
        Result headless = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.toString(), "--adapter-column", "task", "--input", empty.toString());
        assertThat(headless.exitCode()).isEqualTo(2);
        assertThat(headless.err().strip()).hasLineCount(1)
                .contains(empty + " line 2: field 'task' is empty or missing, but the base model has no classification head");

        Result several = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.toString(), "--input", empty.toString());
        assertThat(several.exitCode()).isEqualTo(2);
        assertThat(several.err().strip()).hasLineCount(1).contains("--adapter is given 2 times").contains("--adapter-column FIELD");

        Result sameName = graft("predict", "--adapter", spamRun.toString(), "--adapter", spamRun.resolve("adapter").toString(), "--adapter-column", "task",
                "--input", empty.toString());
        assertThat(sameName.exitCode()).isEqualTo(2);
        assertThat(sameName.err().strip()).hasLineCount(1).contains("have the same name 'spam'");

        Result texts = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.toString(), "--adapter-column", "task", "--text", "hello");
        assertThat(texts.exitCode()).isEqualTo(2);
        assertThat(texts.err().strip()).hasLineCount(1).contains("--text gives no field: use --input");

        Result merged = graft("predict", "--adapter", spamRun.toString(), "--adapter", relabeledRun.toString(), "--adapter-column", "task", "--merge",
                "--input", empty.toString());
        assertThat(merged.exitCode()).isEqualTo(2);
        assertThat(merged.err().strip()).hasLineCount(1).contains("--merge cannot go with --adapter-column");
    }

    private static List<JsonNode> predictAlone(Path run, List<String> lines, String name) throws IOException {
        Path input = Files.write(scratch.resolve(name + ".jsonl"), lines);
        Path output = scratch.resolve(name + "-predictions.jsonl");
        Result result = graft("predict", "--adapter", run.toString(), "--input", input.toString(), "--output", output.toString());
        assertThat(result.exitCode()).as(result.err()).isZero();
        return jsonLines(output);
    }
}
