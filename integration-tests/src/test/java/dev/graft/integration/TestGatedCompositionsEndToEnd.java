package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.integration.GraftCli.Result;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gated compositions end to end, as a user runs them: {@code graft train} on MiniLM and on a tiny Llama with the UniPELT
 * preset, and with LoRA + IA³ + a third-party plugin jar the runtime has never seen, all gated; the saved adapter
 * (gates included) is loaded again by {@code graft predict} or {@code graft evaluate} and gives the outputs the
 * trained model gave.
 */
final class TestGatedCompositionsEndToEnd {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path scratch;

    private static Path examples;
    private static Path plugins;
    private static Path smallValidation;

    @BeforeAll
    static void prepare() throws IOException {
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        plugins = scratch.resolve("third-party-plugins");
        PluginJarBuilder.in(scratch.resolve("work"))
                .source(TestThirdPartyGate.PACKAGE + ".ShiftMethod", TestThirdPartyGate.SHIFT_METHOD)
                .build(plugins.resolve("shift.jar"));
        List<String> ham = new ArrayList<>();
        List<String> spam = new ArrayList<>();
        for (String line : Files.readAllLines(examples.resolve("data/spam-assassin/validation.jsonl"))) {
            (JSON.readTree(line).get("label").asText().equals("spam") ? spam : ham).add(line);
        }
        List<String> lines = new ArrayList<>(ham.subList(0, 6));
        lines.addAll(spam.subList(0, 6));
        smallValidation = Files.write(scratch.resolve("validation.jsonl"), lines);
    }

    @Test
    void testTheUniPeltPresetOnMiniLmReloadsToTheSamePredictions() throws IOException {
        Path run = train(examples.resolve("unipelt.yaml"));
        assertReloadedPredictionsEqualTraining(run);
    }

    @Test
    void testLoraIa3AndAThirdPartyPluginGatedOnMiniLmReloadToTheSamePredictions() throws IOException {
        Path recipe = Files.writeString(scratch.resolve("three-gated.yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: lowrank, method: lora, composition: gated, target_modules: [query, value], options: {r: 4}}",
                "  - {name: scaling, method: ia3, composition: gated}",
                "  - {name: shifted, method: shift, composition: gated, target_modules: [query]}",
                "data:",
                "  train: " + examples.resolve("data/spam-assassin/train.jsonl"),
                "  validation: " + smallValidation,
                ""));
        Path run = train(recipe, "--plugins", plugins.toString());
        assertThat(Files.readString(run.resolve("adapter").resolve("shifted").resolve("adapter_config.json"))).contains("\"SHIFT\"");
        assertReloadedPredictionsEqualTraining(run, "--plugins", plugins.toString());
    }

    @Test
    void testTheUniPeltPresetAndAThirdPartyGatedCompositionOnATinyLlamaReloadToTheSameLoss() throws IOException {
        Path model = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", model.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
        List<String> adapterSets = List.of(
                "  - {preset: unipelt}",
                String.join("\n",
                        "  - {name: lowrank, method: lora, composition: gated, target_modules: [q_proj, v_proj], options: {r: 4}}",
                        "  - {name: scaling, method: ia3, composition: gated}",
                        "  - {name: shifted, method: shift, composition: gated, target_modules: [q_proj]}"));
        for (int index = 0; index < adapterSets.size(); index++) {
            Path recipe = Files.writeString(scratch.resolve("llama-" + index + ".yaml"), String.join("\n",
                    "model: " + model,
                    "adapters:",
                    adapterSets.get(index),
                    "task: {type: causal-lm}",
                    "data:",
                    "  train: " + examples.resolve("data/uppercase/train.jsonl"),
                    "  validation: " + examples.resolve("data/uppercase/validation.jsonl"),
                    "  max_length: 64",
                    ""));
            Path run = train(recipe, "--plugins", plugins.toString());
            Result evaluated = graft("evaluate", "--adapter", run.toString(), "--data", examples.resolve("data/uppercase/validation.jsonl").toString(),
                    "--plugins", plugins.toString());
            assertThat(evaluated.exitCode()).as(evaluated.err()).isZero();
            double keptLoss = lastValidation(run).get("loss").asDouble();
            assertThat(evaluated.out()).as("recipe %d: the reloaded adapter's validation loss", index).contains(String.format("%.4f", keptLoss));
        }
    }

    private static Path train(Path recipe, String... extra) {
        Path run = scratch.resolve(recipe.getFileName().toString().replace(".yaml", "") + "-run");
        List<String> args = new ArrayList<>(List.of("train", recipe.toString(), "--max-steps", "3", "--batch-size", "4", "--learning-rate", "5e-3",
                "--output", run.toString()));
        if (!recipe.startsWith(scratch)) {
            args.addAll(List.of("--validation", smallValidation.toString()));
        }
        args.addAll(List.of(extra));
        Result trained = graft(args.toArray(String[]::new));
        assertThat(trained.exitCode()).as(trained.err()).isZero();
        return run;
    }

    private static void assertReloadedPredictionsEqualTraining(Path run, String... extra) throws IOException {
        Path predictions = scratch.resolve(run.getFileName() + "-predictions.jsonl");
        List<String> args = new ArrayList<>(List.of("predict", "--adapter", run.toString(), "--input", smallValidation.toString(), "--output", predictions.toString()));
        args.addAll(List.of(extra));
        Result predicted = graft(args.toArray(String[]::new));
        assertThat(predicted.exitCode()).as(predicted.err()).isZero();
        List<JsonNode> reloaded = jsonLines(predictions);
        List<JsonNode> fromTraining = jsonLines(run.resolve("validation_predictions.jsonl"));
        assertThat(reloaded).hasSize(12);
        assertThat(fromTraining).hasSize(12);
        for (int index = 0; index < 12; index++) {
            assertThat(reloaded.get(index).get("label").asText()).as("line %d", index + 1).isEqualTo(fromTraining.get(index).get("label").asText());
            for (String label : List.of("ham", "spam")) {
                assertThat(reloaded.get(index).get("probabilities").get(label).asDouble()).as("line %d, %s", index + 1, label)
                        .isCloseTo(fromTraining.get(index).get("probabilities").get(label).asDouble(), within(1e-5));
            }
        }
    }

    private static JsonNode lastValidation(Path run) throws IOException {
        return jsonLines(run.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation")).reduce((first, second) -> second)
                .orElseThrow();
    }
}
