package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.integration.GraftCli.Result;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

/**
 * {@code graft train}, {@code evaluate}, {@code predict}, {@code tiny-llama} and {@code --resume} end to end, in process
 * (and once as a child process that is killed), on the repository's example recipes at tiny scale: the real
 * all-MiniLM-L6-v2, the SpamAssassin sample and a tiny Llama written by {@code graft tiny-llama}.
 */
final class TestFineTuning {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path scratch;

    private static Path distribution;
    private static Path examples;
    private static Path tinyLlama;
    /** 8 ham and 8 spam lines of the SpamAssassin validation file. */
    private static Path smallValidation;

    @BeforeAll
    static void prepare() throws IOException {
        distribution = GraftCli.DISTRIBUTION;
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        tinyLlama = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", tinyLlama.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
        List<String> ham = new ArrayList<>();
        List<String> spam = new ArrayList<>();
        for (String line : Files.readAllLines(examples.resolve("data/spam-assassin/validation.jsonl"))) {
            (JSON.readTree(line).get("label").asText().equals("spam") ? spam : ham).add(line);
        }
        List<String> lines = new ArrayList<>(ham.subList(0, 8));
        lines.addAll(spam.subList(0, 8));
        smallValidation = Files.write(scratch.resolve("validation.jsonl"), lines);
    }

    @Test
    void testEveryExampleRecipeTrainsAtTinyScale() throws IOException {
        List<Path> recipes;
        try (Stream<Path> files = Files.list(examples)) {
            recipes = files.filter(file -> file.toString().endsWith(".yaml")).sorted().collect(Collectors.toList());
        }
        assertThat(recipes).extracting(file -> file.getFileName().toString())
                .contains("quickstart.yaml", "lora.yaml", "dora.yaml", "plora.yaml", "vera.yaml", "ia3.yaml", "bone.yaml", "miss.yaml", "adapter.yaml", "prefix.yaml", "prompt.yaml", "unipelt.yaml",
                        "llama-causal-lm.yaml");
        for (Path recipe : recipes) {
            String name = recipe.getFileName().toString().replace(".yaml", "");
            Path output = scratch.resolve("examples").resolve(name);
            List<String> args = new ArrayList<>(List.of("train", recipe.toString(), "--max-steps", "2", "--batch-size", "4", "--output", output.toString()));
            boolean causal = name.contains("llama");
            if (causal) {
                args.addAll(List.of("--model", tinyLlama.toString()));
            }
            else {
                args.addAll(List.of("--validation", smallValidation.toString()));
            }
            Result result = graft(args.toArray(new String[0]));
            assertThat(result.exitCode()).as("graft %s: %s", String.join(" ", args), result.err()).isZero();
            assertThat(result.out()).as(name).contains("2 steps, ").containsPattern("; waited [0-9]+\\.[0-9]{2} ms per step for data").contains("wrote " + output);
            assertThat(output.resolve("report.md")).as(name).exists();
            assertThat(Files.size(output.resolve("training.png"))).as(name).isGreaterThan(1000);
            if (name.equals("quickstart") || name.equals("unipelt")) {
                assertThat(result.out()).as(name).contains("mean gate per layer and adapter").contains(", gates.png");
                assertThat(ImageIO.read(output.resolve("gates.png").toFile())).as("%s: gates.png", name).isNotNull();
                assertThat(Files.readString(output.resolve("report.md"))).as(name).contains("## Gates").contains("![gates](gates.png)");
            }
            else {
                assertThat(output.resolve("gates.png")).as("%s has no gated adapter", name).doesNotExist();
            }
            List<JsonNode> metrics = jsonLines(output.resolve("metrics.jsonl"));
            JsonNode validation = metrics.stream().filter(line -> line.get("split").asText().equals("validation")).reduce((a, b) -> b).orElseThrow();
            assertThat(validation.get("step").asInt()).as(name).isEqualTo(2);
            assertThat(validation.get("loss").asDouble()).as(name).isFinite().isPositive();
            JsonNode train = metrics.stream().filter(line -> line.get("split").asText().equals("train")).reduce((a, b) -> b).orElseThrow();
            assertThat(train.get("data_wait_ms").asDouble()).as("%s: the data pipeline's wait per step", name).isNotNegative();
            try (Stream<Path> adapters = Files.list(output.resolve("adapter"))) {
                for (Path adapter : adapters.collect(Collectors.toList())) {
                    JsonNode config = JSON.readTree(adapter.resolve("adapter_config.json").toFile());
                    assertThat(config.get("task_type").asText()).as(name).isEqualTo(causal ? "CAUSAL_LM" : "SEQ_CLS");
                    assertThat(Files.size(adapter.resolve("adapter_model.safetensors"))).as(name).isPositive();
                }
            }
            if (!causal) {
                assertThat(metrics).as(name).anyMatch(line -> line.has("accuracy") && line.has("macro_f1"));
            }
        }
    }

    @Test
    void testQuickstartComparesWithBothBaselinesAndWritesTheReport() throws IOException {
        String recipe = Files.readString(examples.resolve("quickstart.yaml"))
                .replace("train: data/spam-assassin/train.jsonl", "train: " + examples.resolve("data/spam-assassin/train.jsonl"))
                .replace("validation: data/spam-assassin/validation.jsonl", "validation: " + smallValidation);
        assertThat(recipe).contains("validation: " + smallValidation);
        Path small = Files.writeString(scratch.resolve("quickstart-small.yaml"), recipe);
        Path output = scratch.resolve("quickstart");
        Result result = graft("quickstart", "--recipe", small.toString(), "--max-steps", "2", "--output", output.toString());
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).contains("Validation results (" + smallValidation + "):")
                .containsPattern("gated lora \\+ adapter \\+ prefix +\\d\\.\\d{4} +\\d\\.\\d{4} +\\d\\.\\d{4}")
                .containsPattern("frozen encoder, head only +\\d\\.\\d{4}")
                // 8 ham and 8 spam; the training data's majority is ham: accuracy 0.5, macro-F1 (2/3 + 0) / 2
                .contains("majority class (ham)                -    0.5000    0.3333")
                .contains("training: 2 steps at ");
        assertThat(output.resolve("report.md")).content().contains("frozen encoder, head only").contains("![training](training.png)");
        assertThat(output.resolve("baselines/head-only/adapter")).isDirectory();
        assertThat(output.resolve("adapter/lowrank/adapter_config.json")).content().contains("\"graft_composition\" : \"gated\"");
    }

    @Test
    void testPredictionsMergedUnmergedAndFromTrainingAgree() throws Exception {
        Path run = scratch.resolve("predict-run");
        Result trained = graft("train", examples.resolve("lora.yaml").toString(), "--max-steps", "3", "--batch-size", "4", "--learning-rate", "5e-3",
                "--validation", smallValidation.toString(), "--output", run.toString());
        assertThat(trained.exitCode()).as(trained.err()).isZero();
        Path unmerged = scratch.resolve("unmerged.jsonl");
        Path merged = scratch.resolve("merged.jsonl");
        Result first = graft("predict", "--adapter", run.toString(), "--input", smallValidation.toString(), "--output", unmerged.toString());
        assertThat(first.exitCode()).as(first.err()).isZero();
        Result second = graft("predict", "--adapter", run.toString(), "--merge", "--input", smallValidation.toString(), "--output", merged.toString());
        assertThat(second.exitCode()).as(second.err()).isZero();
        List<JsonNode> fromTraining = jsonLines(run.resolve("validation_predictions.jsonl"));
        List<JsonNode> withoutMerge = jsonLines(unmerged);
        List<JsonNode> withMerge = jsonLines(merged);
        assertThat(withoutMerge).hasSize(16);
        assertThat(withMerge).hasSize(16);
        assertThat(fromTraining).hasSize(16);
        for (int index = 0; index < 16; index++) {
            String label = withoutMerge.get(index).get("label").asText();
            assertThat(withMerge.get(index).get("label").asText()).as("line %d merged", index + 1).isEqualTo(label);
            assertThat(fromTraining.get(index).get("label").asText()).as("line %d in training", index + 1).isEqualTo(label);
            for (String name : List.of("ham", "spam")) {
                double probability = withoutMerge.get(index).get("probabilities").get(name).asDouble();
                assertThat(withMerge.get(index).get("probabilities").get(name).asDouble()).isCloseTo(probability, within(1e-4));
                assertThat(fromTraining.get(index).get("probabilities").get(name).asDouble()).isCloseTo(probability, within(1e-4));
            }
        }
        // as a user runs it: the launcher, one line of output per text, and nothing from libtorch on standard error
        Process predict = launcher("predict", "--adapter", run.toString(), "--text", "Win a FREE cruise now").redirectOutput(scratch.resolve("predict.out").toFile())
                .redirectError(scratch.resolve("predict.err").toFile()).start();
        predict.getOutputStream().close();
        assertThat(predict.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String launchedErr = Files.readString(scratch.resolve("predict.err"));
        assertThat(predict.exitValue()).as(launchedErr).isZero();
        assertThat(Files.readString(scratch.resolve("predict.out"))).startsWith("{\"text\":\"Win a FREE cruise now\",\"label\":");
        assertThat(launchedErr).doesNotContain("Warning").doesNotContain("AutoNonVariableTypeMode");

        Result evaluated = graft("evaluate", "--adapter", run.toString(), "--data", smallValidation.toString());
        assertThat(evaluated.exitCode()).as(evaluated.err()).isZero();
        JsonNode kept = jsonLines(run.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation")).reduce((a, b) -> b).orElseThrow();
        assertThat(evaluated.out()).contains(String.format("%.4f", kept.get("accuracy").asDouble()));
    }

    @Test
    void testARunKilledWithSigkillAndResumedEndsWithTheSameAdapter() throws Exception {
        Path recipe = Files.writeString(scratch.resolve("resume.yaml"), String.join("\n",
                "model: " + tinyLlama,
                "adapters:",
                "  - {name: lowrank, method: lora, target_modules: [q_proj, v_proj], options: {r: 4, lora_alpha: 8, lora_dropout: 0.1}}",
                "data:",
                "  train: " + examples.resolve("data/uppercase/train.jsonl"),
                "  validation: " + examples.resolve("data/uppercase/validation.jsonl"),
                "  max_length: 48",
                "training: {max_steps: 300, batch_size: 4, learning_rate: 3.0e-3, warmup_steps: 10, eval_every: 100, checkpoint_every: 5, keep_checkpoints: 2, seed: 5}",
                ""));
        Path uninterrupted = scratch.resolve("uninterrupted");
        Result reference = graft("train", recipe.toString(), "--output", uninterrupted.toString());
        assertThat(reference.exitCode()).as(reference.err()).isZero();

        Path killed = scratch.resolve("killed");
        Process child = launcher("train", recipe.toString(), "--output", killed.toString())
                .redirectOutput(scratch.resolve("child.out").toFile())
                .redirectError(scratch.resolve("child.err").toFile())
                .start();
        child.getOutputStream().close();
        Path firstCheckpoint = killed.resolve("checkpoints/step-000010");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(firstCheckpoint) && child.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        child.destroyForcibly();
        assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.exists(firstCheckpoint)).as("a checkpoint before the kill; child stderr: %s", Files.readString(scratch.resolve("child.err"))).isTrue();
        assertThat(killed.resolve("report.md")).as("the run was killed before it finished").doesNotExist();

        Result resumed = graft("train", "--resume", killed.toString());
        assertThat(resumed.exitCode()).as(resumed.err()).isZero();
        assertThat(resumed.out()).contains("300 steps");
        assertThat(Files.readAllBytes(killed.resolve("adapter/lowrank/adapter_model.safetensors")))
                .as("the resumed run's adapter, bit for bit")
                .isEqualTo(Files.readAllBytes(uninterrupted.resolve("adapter/lowrank/adapter_model.safetensors")));
        assertThat(jsonLines(killed.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation")).map(line -> line.get("loss").asDouble()))
                .containsExactlyElementsOf(jsonLines(uninterrupted.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation"))
                        .map(line -> line.get("loss").asDouble()).collect(Collectors.toList()));
    }

    @Test
    void testPissaTrainsAndItsConvertedPlainLoraEvaluatesTheSameOnTheOriginalBase() throws IOException {
        Path recipe = Files.writeString(scratch.resolve("pissa.yaml"), String.join("\n",
                "model: " + tinyLlama,
                "adapters:",
                "  - {name: principal, method: lora, target_modules: [q_proj, v_proj], options: {r: 4, lora_alpha: 8, init_lora_weights: pissa}}",
                "data:",
                "  train: " + examples.resolve("data/uppercase/train.jsonl"),
                "  validation: " + examples.resolve("data/uppercase/validation.jsonl"),
                "  max_length: 48",
                "training: {max_steps: 6, batch_size: 4, learning_rate: 3.0e-3, eval_every: 6, seed: 5}",
                ""));
        Path run = scratch.resolve("pissa-run");
        Result trained = graft("train", recipe.toString(), "--output", run.toString());
        assertThat(trained.exitCode()).as(trained.err()).isZero();
        assertThat(trained.out()).contains("adapter-lora/ (converted to plain LoRA for the original base)");
        assertThat(JSON.readTree(Files.readString(run.resolve("adapter/principal/adapter_config.json"))).get("init_lora_weights").asText()).isEqualTo("pissa");
        JsonNode converted = JSON.readTree(Files.readString(run.resolve("adapter-lora/principal/adapter_config.json")));
        assertThat(converted.get("init_lora_weights").asBoolean()).isTrue();
        assertThat(converted.get("r").asInt()).isEqualTo(8);
        assertThat(converted.get("lora_alpha").asDouble()).isEqualTo(16.0);

        Path validation = examples.resolve("data/uppercase/validation.jsonl");
        Result asSaved = graft("evaluate", "--adapter", run.resolve("adapter").toString(), "--model", tinyLlama.toString(), "--max-length", "48", "--data", validation.toString());
        Result asPlainLora = graft("evaluate", "--adapter", run.resolve("adapter-lora").toString(), "--model", tinyLlama.toString(), "--max-length", "48", "--data", validation.toString());
        assertThat(asSaved.exitCode()).as(asSaved.err()).isZero();
        assertThat(asPlainLora.exitCode()).as(asPlainLora.err()).isZero();
        assertThat(asPlainLora.out()).as("the converted rank-8 LoRA on the original base evaluates as the PiSSA adapter").isEqualTo(asSaved.out());
    }

    @Test
    void testADivergingRunStopsWithTheStepTheLastCheckpointAndAHint() throws IOException {
        Path recipe = Files.writeString(scratch.resolve("diverge.yaml"), String.join("\n",
                "model: " + tinyLlama,
                "adapters:",
                "  - {name: lowrank, method: lora, target_modules: [q_proj, v_proj], options: {r: 4, lora_alpha: 8}}",
                "data: {train: " + examples.resolve("data/uppercase/train.jsonl") + ", validation: " + examples.resolve("data/uppercase/validation.jsonl") + "}",
                "training: {max_steps: 30, batch_size: 4, learning_rate: 1.0e+38, max_grad_norm: 0, checkpoint_every: 1}",
                ""));
        Path run = scratch.resolve("diverged");
        Result result = graft("train", recipe.toString(), "--output", run.toString());
        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.err().strip()).hasLineCount(1)
                .startsWith("graft train: training stopped at step 2: the loss is NaN; the last good checkpoint is " + run.resolve("checkpoints/step-000001"))
                .contains("Lower training.learning_rate (now 1.0E38) or turn on gradient clipping (training.max_grad_norm: 1.0)");
        assertThat(run.resolve("adapter")).doesNotExist();
    }

    @Test
    void testBadRecipesAndDataAreOneLineAndExitTwo() throws IOException {
        Path typo = Files.writeString(scratch.resolve("typo.yaml"), "model: minilm\ntraining:\n  learning_rat: 1.0e-3\n");
        Result result = graft("train", typo.toString(), "--output", scratch.resolve("never").toString());
        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err().strip()).hasLineCount(1).contains(typo + " line 3, column 3: unknown field 'learning_rat' in training; did you mean 'learning_rate'?");
        assertThat(scratch.resolve("never")).doesNotExist();

        Path broken = Files.writeString(scratch.resolve("broken.jsonl"), "{\"text\": \"fine\", \"label\": \"ham\"}\n{\"text\": \"no label\"}\n");
        Result data = graft("train", examples.resolve("lora.yaml").toString(), "--train", broken.toString(), "--output", scratch.resolve("broken-run").toString());
        assertThat(data.exitCode()).isEqualTo(2);
        assertThat(data.err().strip()).hasLineCount(1).contains(broken + " line 2: field 'label' is missing");
    }

    /** {@code bin/graft} with {@code args}, as a child process with this JVM's Java and the build's PyTorch cache. */
    private static ProcessBuilder launcher(String... args) {
        List<String> command = new ArrayList<>(List.of(distribution.resolve("bin/graft").toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("DJL_CACHE_DIR", Optional.ofNullable(System.getenv("DJL_CACHE_DIR")).orElse(scratch.resolve("djl-cache").toString()));
        builder.environment().remove("GRAFT_OPTS");
        return builder;
    }
}
