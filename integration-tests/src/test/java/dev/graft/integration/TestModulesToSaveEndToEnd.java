package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.integration.GraftCli.Result;
import dev.graft.runtime.format.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT's {@code modules_to_save} for any base module, through {@code graft train} on the real all-MiniLM-L6-v2: LoRA r=8
 * on query and value plus a full trainable copy of the last layer's feed-forward output projection. The count is
 * PEFT's (the copy counts in full), the copy is saved under PEFT's key, and the run folder predicts what training did.
 */
final class TestModulesToSaveEndToEnd {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODULE = "encoder.layer.5.output.dense";

    @TempDir
    Path scratch;

    @Test
    void testAFullCopyOfAnyModuleTrainsSavesUnderPeftsKeyAndReloads() throws IOException {
        Path examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        List<String> validation = Files.readAllLines(examples.resolve("data/spam-assassin/validation.jsonl")).subList(0, 12);
        Path smallValidation = Files.write(scratch.resolve("validation.jsonl"), validation);
        Path recipe = Files.writeString(scratch.resolve("recipe.yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: lowrank, method: lora, target_modules: [query, value], options: {r: 8, lora_alpha: 16}, modules_to_save: [" + MODULE + "]}",
                "data:",
                "  train: " + examples.resolve("data/spam-assassin/train.jsonl"),
                "  validation: " + smallValidation,
                ""));
        Path run = scratch.resolve("run");
        Result trained = graft("train", recipe.toString(), "--max-steps", "3", "--batch-size", "4", "--learning-rate", "5e-3", "--output", run.toString());
        assertThat(trained.exitCode()).as(trained.err()).isZero();
        // LoRA q,v at r=8 on 6 layers: 12·8·(384 + 384) = 73,728; the copy: 384·1536 + 384 = 590,208; the 2-class head: 770
        assertThat(Files.readString(run.resolve("report.md"))).contains(String.format("trainable params: %,d", 73_728 + 590_208 + 770));

        Path adapter = run.resolve("adapter/lowrank");
        JsonNode config = JSON.readTree(adapter.resolve("adapter_config.json").toFile());
        assertThat(config.get("modules_to_save").toString()).contains(MODULE);
        try (NDManager manager = NDManager.newBaseManager(); SafetensorsFile saved = SafetensorsFile.open(adapter.resolve("adapter_model.safetensors"))) {
            // a sequence-classification adapter carries BertForSequenceClassification's bert. prefix, as PEFT saves it
            String key = "base_model.model.bert." + MODULE + ".weight";
            assertThat(saved.names()).contains(key, "base_model.model.bert." + MODULE + ".bias");
            NDArray weight = saved.load(key, manager);
            assertThat(weight.getShape().getShape()).containsExactly(384, 1536);
        }

        Path predictions = scratch.resolve("predictions.jsonl");
        Result predicted = graft("predict", "--adapter", run.toString(), "--input", smallValidation.toString(), "--output", predictions.toString());
        assertThat(predicted.exitCode()).as(predicted.err()).isZero();
        List<JsonNode> reloaded = jsonLines(predictions);
        List<JsonNode> fromTraining = jsonLines(run.resolve("validation_predictions.jsonl"));
        assertThat(reloaded).hasSameSizeAs(fromTraining);
        for (int index = 0; index < reloaded.size(); index++) {
            assertThat(reloaded.get(index).get("probabilities").get("spam").asDouble()).as("line %d", index + 1)
                    .isCloseTo(fromTraining.get(index).get("probabilities").get("spam").asDouble(), within(1e-5));
        }
    }
}
