package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.integration.GraftCli.Result;
import dev.graft.runtime.format.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdapterFusion end to end, as AdapterHub users run it: two bottleneck adapters trained by {@code graft train} in two
 * runs, then a third recipe loads both by {@code path:} and trains only their fusion ({@code composition: {block: fuse}}).
 * Its run folder holds the fusion beside the adapters, and {@code graft predict}/{@code evaluate} reload adapters and
 * fusion to what training computed; {@code --block} combines a multi-adapter folder; {@code graft inspect} lists the
 * fusion.
 */
final class TestAdapterFusionEndToEnd {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MINILM_LAYERS = 6;
    private static final int MINILM_HIDDEN = 384;

    @TempDir
    static Path scratch;

    private static Path examples;
    private static Path smallValidation;
    private static Path first;
    private static Path second;
    private static Path fused;

    @BeforeAll
    static void trainTwoAdaptersAndTheirFusion() throws IOException {
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        List<String> ham = new ArrayList<>();
        List<String> spam = new ArrayList<>();
        for (String line : Files.readAllLines(examples.resolve("data/spam-assassin/validation.jsonl"))) {
            (JSON.readTree(line).get("label").asText().equals("spam") ? spam : ham).add(line);
        }
        List<String> lines = new ArrayList<>(ham.subList(0, 6));
        lines.addAll(spam.subList(0, 6));
        smallValidation = Files.write(scratch.resolve("validation.jsonl"), lines);
        first = train("first", "  - {name: first, method: adapter, options: {reduction_factor: 16}}", "");
        second = train("second", "  - {name: second, method: adapter, options: {reduction_factor: 32}}", "");
        fused = train("fused", String.join("\n",
                "  - {name: first, path: " + first.resolve("adapter/first") + "}",
                "  - {name: second, path: " + second.resolve("adapter/second") + "}"),
                "composition: {block: fuse, adapters: [first, second], name: both}\n");
    }

    @Test
    void testTheFusionRunTrainsOnlyTheFusionAndSavesItBesideTheAdapters() throws IOException {
        Path fusion = fused.resolve("adapter/fusion/both");
        assertThat(fusion.resolve("adapter_fusion_config.json")).exists();
        assertThat(fusion.resolve("adapter_fusion.safetensors")).exists();
        JsonNode config = JSON.readTree(fusion.resolve("adapter_fusion_config.json").toFile());
        assertThat(config.get("name").asText()).isEqualTo("both");
        assertThat(config.get("adapters").toString()).isEqualTo("[\"first\",\"second\"]");
        assertThat(fused.resolve("checkpoints/step-000003/adapter/fusion/both/adapter_fusion.safetensors")).exists();
        assertThat(Files.readString(fused.resolve("recipe.yaml"))).contains("path: " + first.resolve("adapter/first")).contains("method: adapter");
        for (Path run : List.of(first, second)) {
            String name = run.getFileName().toString();
            try (NDManager manager = NDManager.newBaseManager();
                    SafetensorsFile trained = SafetensorsFile.open(run.resolve("adapter").resolve(name).resolve("adapter_model.safetensors"));
                    SafetensorsFile reSaved = SafetensorsFile.open(fused.resolve("adapter").resolve(name).resolve("adapter_model.safetensors"))) {
                List<String> adapterKeys = trained.names().stream().filter(key -> !key.contains(".classifier.")).toList();
                assertThat(adapterKeys).isNotEmpty();
                assertThat(reSaved.names()).containsAll(adapterKeys);
                for (String key : adapterKeys) {
                    assertThat(reSaved.load(key, manager).toFloatArray()).as("%s: %s is frozen under the fuse block", name, key)
                            .containsExactly(trained.load(key, manager).toFloatArray());
                }
            }
        }
    }

    @Test
    void testPredictAndEvaluateReloadTheAdaptersAndTheFusionToTheRunsValidationResults() throws IOException {
        List<JsonNode> fromTraining = jsonLines(fused.resolve("validation_predictions.jsonl"));
        double keptLoss = lastValidation(fused).get("loss").asDouble();
        double lossOfTrainingPredictions = meanLoss(fromTraining);
        assertThat(lossOfTrainingPredictions).as("the kept predictions give the kept loss").isCloseTo(keptLoss, within(1e-5));
        for (List<String> block : List.of(List.<String>of(), List.of("--block", "fuse:both"))) {
            List<JsonNode> reloaded = predict(fused, block);
            assertThat(reloaded).hasSize(12);
            for (int index = 0; index < 12; index++) {
                assertThat(reloaded.get(index).get("label").asText()).as("%s line %d", block, index + 1).isEqualTo(fromTraining.get(index).get("label").asText());
                for (String label : List.of("ham", "spam")) {
                    assertThat(reloaded.get(index).get("probabilities").get(label).asDouble()).as("%s line %d, %s", block, index + 1, label)
                            .isCloseTo(fromTraining.get(index).get("probabilities").get(label).asDouble(), within(1e-5));
                }
            }
            assertThat(meanLoss(reloaded)).as("%s: the reloaded model's validation loss", block).isCloseTo(keptLoss, within(1e-5));
        }
        Result evaluated = graft("evaluate", "--adapter", fused.toString(), "--data", smallValidation.toString());
        assertThat(evaluated.exitCode()).as(evaluated.err()).isZero();
        assertThat(evaluated.out()).contains(String.format("%.4f", keptLoss));
    }

    @Test
    void testBlocksOverAMultiAdapterFolder() throws IOException {
        Path adapters = fused.resolve("adapter");
        List<JsonNode> fusion = predict(adapters, List.of("--block", "fuse:both"));
        List<JsonNode> fromTraining = jsonLines(fused.resolve("validation_predictions.jsonl"));
        for (int index = 0; index < 12; index++) {
            assertThat(fusion.get(index).get("probabilities").get("spam").asDouble()).as("the run's adapter/ folder with --block fuse:both, line %d", index + 1)
                    .isCloseTo(fromTraining.get(index).get("probabilities").get("spam").asDouble(), within(1e-5));
        }
        List<JsonNode> average = predict(adapters, List.of("--block", "average:first,second"));
        List<JsonNode> weighted = predict(adapters, List.of("--block", "average:first,second:0.5,0.5"));
        List<JsonNode> stacked = predict(adapters, List.of("--block", "stack:first,second"));
        for (int index = 0; index < 12; index++) {
            assertThat(weighted.get(index).get("probabilities").get("spam").asDouble()).as("equal weights spelled out, line %d", index + 1)
                    .isCloseTo(average.get(index).get("probabilities").get("spam").asDouble(), within(1e-6));
        }
        assertThat(stacked).hasSize(12);
        assertThat(stacked).extracting(line -> line.get("probabilities").get("spam").asDouble())
                .isNotEqualTo(average.stream().map(line -> line.get("probabilities").get("spam").asDouble()).toList());
        Result evaluated = graft("evaluate", "--adapter", adapters.toString(), "--data", smallValidation.toString(), "--block", "stack:first,second");
        assertThat(evaluated.exitCode()).as(evaluated.err()).isZero();
        assertThat(evaluated.out()).contains("12 examples");
    }

    @Test
    void testNonsenseBlocksGetOneLineBeforeAnyTensor() {
        Path adapters = fused.resolve("adapter");
        assertRefused(adapters, "blend:first,second", "--block 'blend:first,second' is not a block; write average:a,b[:0.7,0.3], stack:a,b or fuse:NAME (adapters here: [first, second])");
        assertRefused(adapters, "average:first,secnd", "--block average:first,secnd names adapter 'secnd', which is not among the adapters here [first, second]; did you mean 'second'?");
        assertRefused(adapters, "average:first,second:0.7", "--block average:first,second:0.7: an average block needs one weight per adapter");
        assertRefused(adapters, "average:first,second:0.7,x", "--block average:first,second:0.7,x: weight 'x' is not a number; write average:a,b:0.7,0.3");
        assertRefused(adapters, "stack:first,second:0.7,0.3", "--block stack:first,second:0.7,0.3: weights are for an average block only; write stack:first,second");
        assertRefused(adapters, "fuse:all", "--block fuse:all: " + adapters + " holds no fusion 'all'");
        assertRefused(adapters, "parallel:first,second", "--block parallel:first,second: a parallel block returns one output per adapter");
        Result routed = graft("predict", "--adapter", first.toString(), "--adapter", second.toString(), "--adapter-column", "task", "--input", smallValidation.toString(),
                "--block", "stack:first,second");
        assertThat(routed.exitCode()).isEqualTo(2);
        assertThat(routed.err()).contains("cannot go with --adapter-column");
    }

    @Test
    void testInspectListsTheFusion() {
        Result inspected = graft("inspect", "--model", "minilm", "--adapter", fused.toString());
        assertThat(inspected.exitCode()).as(inspected.err()).isZero();
        long perSite = 3L * MINILM_HIDDEN * MINILM_HIDDEN + 2L * MINILM_HIDDEN;
        assertThat(inspected.out()).contains(String.format("fusion 'both' over [first, second]: %d parameters at %d sublayer sites", MINILM_LAYERS * perSite, MINILM_LAYERS));
    }

    @Test
    void testRecipeRefusalsForLoadedAdapters() throws IOException {
        Path withOptions = Files.writeString(scratch.resolve("loaded-options.yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: first, path: " + first.resolve("adapter/first") + ", options: {reduction_factor: 8}}",
                "data: {train: " + examples.resolve("data/spam-assassin/train.jsonl") + "}",
                ""));
        Result options = graft("train", withOptions.toString(), "--output", scratch.resolve("refused-1").toString());
        assertThat(options.exitCode()).isEqualTo(2);
        assertThat(options.err()).contains("adapter 'first' loads the trained adapter in " + first.resolve("adapter/first"))
                .contains("remove options (or remove path to create a fresh adapter)");
        Path wrongMethod = Files.writeString(scratch.resolve("loaded-method.yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: first, method: lora, path: " + first.resolve("adapter/first") + "}",
                "data: {train: " + examples.resolve("data/spam-assassin/train.jsonl") + "}",
                ""));
        Result method = graft("train", wrongMethod.toString(), "--output", scratch.resolve("refused-2").toString());
        assertThat(method.exitCode()).isEqualTo(2);
        assertThat(method.err()).contains("adapter 'first' names method lora, but the adapter in " + first.resolve("adapter/first") + " is a adapter adapter");
        Path trainableFused = Files.writeString(scratch.resolve("trainable-fused.yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: first, path: " + first.resolve("adapter/first") + ", trainable: true}",
                "  - {name: second, path: " + second.resolve("adapter/second") + "}",
                "composition: {block: fuse, adapters: [first, second]}",
                "data: {train: " + examples.resolve("data/spam-assassin/train.jsonl") + "}",
                ""));
        Result trainable = graft("train", trainableFused.toString(), "--output", scratch.resolve("refused-3").toString());
        assertThat(trainable.exitCode()).isEqualTo(2);
        assertThat(trainable.err()).contains("adapter 'first' is fused by the fuse block, which trains the fusion only and keeps its adapters frozen: remove trainable: true");
        assertThat(scratch.resolve("refused-3/adapter")).doesNotExist();
    }

    private static void assertRefused(Path adapters, String block, String message) {
        Result refused = graft("predict", "--adapter", adapters.toString(), "--text", "hello", "--block", block);
        assertThat(refused.exitCode()).as(block).isEqualTo(2);
        assertThat(refused.err().strip()).as(block).contains(message).doesNotContain("\n");
    }

    private static Path train(String name, String adapters, String composition) {
        Path recipe;
        try {
            recipe = Files.writeString(scratch.resolve(name + ".yaml"), String.join("\n",
                    "model: minilm",
                    "adapters:",
                    adapters,
                    composition + "data:",
                    "  train: " + examples.resolve("data/spam-assassin/train.jsonl"),
                    "  validation: " + smallValidation,
                    ""));
        }
        catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Path run = scratch.resolve(name);
        Result trained = graft("train", recipe.toString(), "--max-steps", "3", "--batch-size", "4", "--learning-rate", "5e-3", "--output", run.toString());
        assertThat(trained.exitCode()).as(trained.err()).isZero();
        return run;
    }

    private static List<JsonNode> predict(Path adapter, List<String> block) throws IOException {
        Path predictions = Files.createTempFile(scratch, "predictions", ".jsonl");
        List<String> args = new ArrayList<>(List.of("predict", "--adapter", adapter.toString(), "--input", smallValidation.toString(), "--output", predictions.toString()));
        args.addAll(block);
        Result predicted = graft(args.toArray(String[]::new));
        assertThat(predicted.exitCode()).as(predicted.err()).isZero();
        return jsonLines(predictions);
    }

    /** The mean cross-entropy of predictions against the validation file's labels (the run's validation loss). */
    private static double meanLoss(List<JsonNode> predictions) throws IOException {
        List<String> truth = new ArrayList<>();
        for (String line : Files.readAllLines(smallValidation)) {
            truth.add(JSON.readTree(line).get("label").asText());
        }
        double total = 0;
        for (int index = 0; index < predictions.size(); index++) {
            total -= Math.log(predictions.get(index).get("probabilities").get(truth.get(index)).asDouble());
        }
        return total / predictions.size();
    }

    private static JsonNode lastValidation(Path run) throws IOException {
        return jsonLines(run.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation")).reduce((first, second) -> second)
                .orElseThrow();
    }
}
