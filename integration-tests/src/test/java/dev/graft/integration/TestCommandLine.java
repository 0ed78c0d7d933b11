package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.plugin.lora.LoraMethod;
import dev.graft.plugin.prefix.PrefixTuningMethod;
import dev.graft.integration.GraftCli.Result;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft forward}, {@code merge} and {@code inspect} end to end, in process, on a tiny Llama saved in
 * Hugging Face layout, with adapters saved in PEFT layout and methods loaded from the distribution's plugins.
 */
final class TestCommandLine {
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();

    @TempDir
    static Path scratch;

    private static Path distribution;
    private static Path model;
    private static Path input;
    private static Path first;
    private static Path second;
    private static Path prefix;
    private static Path gated;

    @BeforeAll
    static void writeModelAndAdapters() throws IOException {
        distribution = GraftCli.DISTRIBUTION;
        model = scratch.resolve("tiny-llama");
        input = scratch.resolve("input.safetensors");
        first = scratch.resolve("first");
        second = scratch.resolve("second");
        prefix = scratch.resolve("virtual-tokens");
        gated = scratch.resolve("gated");
        try (NDManager manager = NDManager.newBaseManager()) {
            Files.createDirectories(model);
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("model_type", "llama");
            config.put("vocab_size", CONFIG.vocabularySize());
            config.put("hidden_size", CONFIG.hiddenSize());
            config.put("intermediate_size", CONFIG.intermediateSize());
            config.put("num_hidden_layers", CONFIG.numLayers());
            config.put("num_attention_heads", CONFIG.numAttentionHeads());
            config.put("num_key_value_heads", CONFIG.numKeyValueHeads());
            config.put("rms_norm_eps", CONFIG.rmsNormEps());
            config.put("rope_theta", CONFIG.ropeTheta());
            config.put("tie_word_embeddings", false);
            new ObjectMapper().writeValue(model.resolve("config.json").toFile(), config);
            Map<String, NDArray> weights = LlamaWeights.random(CONFIG, manager, 21);
            SafetensorsWriter.write(model.resolve("model.safetensors"), new LinkedHashMap<>(weights), Map.of("format", "pt"));

            SafetensorsWriter.write(input, new LinkedHashMap<>(Map.of(
                    "input_ids", manager.create(new long[][] {{1, 7, 42, 9, 3}, {0, 0, 5, 6, 7}}),
                    "attention_mask", manager.create(new long[][] {{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}))), Map.of());

            saveAdapter(manager, new LoraMethod(), Map.of("r", 4, "lora_alpha", 8), Map.of("target_modules", List.of("q_proj", "v_proj")), first, 1);
            saveAdapter(manager, new LoraMethod(), Map.of("r", 2, "lora_alpha", 4, "use_rslora", true), Map.of("target_modules", List.of("q_proj", "v_proj")), second, 2);
            saveAdapter(manager, new PrefixTuningMethod(), Map.of("num_virtual_tokens", 3), Map.of(), prefix, 3);
            saveAdapter(manager, new LoraMethod(), Map.of("r", 4, "lora_alpha", 8), Map.of("target_modules", List.of("q_proj", "v_proj")), Composition.GATED, gated, 4);
        }
    }

    @Test
    void testForwardMergedEqualsUnmergedAndMergeRoundTrips() throws IOException {
        Path unmerged = scratch.resolve("unmerged.safetensors");
        Path merged = scratch.resolve("merged.safetensors");
        Path exported = scratch.resolve("exported");
        Path fromExport = scratch.resolve("from-export.safetensors");

        assertSucceeds("forward", "--model", model.toString(), "--adapter", first.toString(), "--input", input.toString(), "--output", unmerged.toString());
        assertSucceeds("forward", "--model", model.toString(), "--adapter", first.toString(), "--merge", "--input", input.toString(), "--output", merged.toString());
        assertSucceeds("merge", "--model", model.toString(), "--adapter", first.toString(), "--output", exported.toString());
        assertSucceeds("forward", "--model", exported.toString(), "--input", input.toString(), "--output", fromExport.toString());
        Path base = scratch.resolve("base.safetensors");
        assertSucceeds("forward", "--model", model.toString(), "--input", input.toString(), "--output", base.toString());

        float[] expected = logits(unmerged);
        assertThat(expected).hasSize(2 * 5 * CONFIG.vocabularySize());
        assertClose(logits(merged), expected, "forward --merge");
        assertClose(logits(fromExport), expected, "forward on the merged export");
        assertThat(logits(base)).as("the adapter changes the logits").isNotEqualTo(expected);
    }

    @Test
    void testWeightedMergeOfTwoAdaptersEqualsBothActive() throws IOException {
        Path both = scratch.resolve("both.safetensors");
        Path exported = scratch.resolve("exported-pair");
        Path fromExport = scratch.resolve("pair.safetensors");

        assertSucceeds("forward", "--model", model.toString(), "--adapter", first.toString(), "--adapter", second.toString(),
                "--input", input.toString(), "--output", both.toString());
        assertSucceeds("merge", "--model", model.toString(), "--adapter", first.toString(), "--weight", "1", "--adapter", second.toString(), "--weight", "1",
                "--output", exported.toString());
        assertSucceeds("forward", "--model", exported.toString(), "--input", input.toString(), "--output", fromExport.toString());

        assertClose(logits(fromExport), logits(both), "merged pair vs both adapters active");
    }

    @Test
    void testInspectPrintsAttachmentsAndPeftLine() {
        Result result = graft("inspect", "--model", model.toString(), "--adapter", first.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).contains("first  lora  sum  linear  model.layers.0.self_attn.q_proj  lora_A.weight(4, 64) lora_B.weight(64, 4)")
                .contains("trainable params: 1,792 || all params: 92,224 || trainable%: 1.9431");
    }

    @Test
    void testInspectListsTheGatesOfAGatedAdapter() {
        Result result = graft("inspect", "--model", model.toString(), "--adapter", gated.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        // 2 layers × q_proj and v_proj: 4 gates, each a (1, 64) weight and a (1) bias under the site's checkpoint key
        assertThat(result.out()).contains("gates of 'gated': 4, one per site")
                .contains("  base_model.model.model.layers.0.self_attn.q_proj.graft_gate.weight  (1, 64)")
                .contains("  base_model.model.model.layers.0.self_attn.q_proj.graft_gate.bias  (1)")
                .contains("  base_model.model.model.layers.1.self_attn.v_proj.graft_gate.weight  (1, 64)")
                .contains("  base_model.model.model.layers.1.self_attn.v_proj.graft_gate.bias  (1)")
                // LoRA 1,792 + 4 gates of 65
                .contains("trainable params: 2,052 || ");
        assertThat(result.out().lines().filter(line -> line.contains("graft_gate."))).hasSize(8);
        assertThat(graft("inspect", "--model", model.toString(), "--adapter", first.toString()).out()).doesNotContain("gates of");
    }

    @Test
    void testForwardInHalfPrecisionWithAnAdapterStaysCloseToFloat32() {
        Path single = scratch.resolve("float32.safetensors");
        Path half = scratch.resolve("half.safetensors");

        assertSucceeds("forward", "--model", model.toString(), "--adapter", first.toString(), "--input", input.toString(), "--output", single.toString());
        assertSucceeds("forward", "--model", model.toString(), "--precision", "half", "--adapter", first.toString(), "--input", input.toString(),
                "--output", half.toString());

        float[] expected = logits(single);
        float[] actual = logits(half);
        double worst = 0;
        for (int index = 0; index < expected.length; index++) {
            worst = Math.max(worst, Math.abs(actual[index] - expected[index]));
        }
        assertThat(worst).as("float16 base with a float32 adapter vs float32").isLessThan(2e-2).isPositive();
        Result refused = graft("merge", "--model", model.toString(), "--precision", "half", "--adapter", first.toString(), "--output", scratch.resolve("no").toString());
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.err()).contains("merge computes in float32");
    }

    @Test
    void testInspectReadsARecipeAndRejectsUnknownKeys() throws IOException {
        Path recipe = Files.writeString(scratch.resolve("recipe.yaml"), String.join("\n",
                "model: tiny-llama",
                "adapters:",
                "  - name: lowrank",
                "    method: lora",
                "    composition: gated",
                "    target_modules: [q_proj, v_proj]",
                "    options: {r: 4, lora_alpha: 8}",
                ""));
        Result result = graft("inspect", "--recipe", recipe.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        // LoRA 1,792 + one gate (64 weights + 1 bias) at each of the 4 sites
        assertThat(result.out()).contains("lowrank  lora  gated  linear  model.layers.1.self_attn.v_proj  lora_A.weight(4, 64) lora_B.weight(32, 4) gate(1, 64)")
                .contains("trainable params: 2,052 || ");

        Path bad = Files.writeString(scratch.resolve("bad.yaml"), "model: tiny-llama\nadapters:\n  - name: x\n    method: lora\n    rank: 4\n");
        Result rejected = graft("inspect", "--recipe", bad.toString());
        assertThat(rejected.exitCode()).isEqualTo(2);
        assertThat(rejected.err().strip()).hasLineCount(1).contains(bad + " line 5, column 5: unknown field 'rank' in adapters[0]").contains("target_modules");
    }

    @Test
    void testInspectPrintsWhatAPresetBecameBeforeTheAttachmentTable() throws IOException {
        Path recipe = Files.writeString(scratch.resolve("preset.yaml"), "model: tiny-llama\nadapters:\n  - preset: unipelt\n    lora: {r: 4}\n");
        Result result = graft("inspect", "--recipe", recipe.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> lines = result.out().lines().collect(Collectors.toList());
        int expansion = lines.indexOf("preset unipelt became:");
        assertThat(expansion).isPositive();
        assertThat(lines.subList(expansion + 1, expansion + 4)).containsExactly(
                "  unipelt_prefix: method prefix, composition gated, the method's default targets, options {num_virtual_tokens=10, prefix_projection=true, encoder_hidden_size=512}",
                "  unipelt_adapter: method adapter, composition gated, the method's default targets, options {config=pfeiffer, reduction_factor=16}",
                "  unipelt_lora: method lora, composition gated, the method's default targets, options {r=4}");
        assertThat(lines.subList(expansion + 4, lines.size())).anyMatch(line -> line.startsWith("unipelt_lora  lora  gated  linear  model.layers.0.self_attn.q_proj"));
        assertThat(lines.subList(0, expansion)).noneMatch(line -> line.startsWith("unipelt_"));
    }

    @Test
    void testAnAdapterWhoseKeysDoNotFitItsConfigNamesBothSides() throws IOException {
        Path retargeted = copyAdapter(first, "retargeted");
        Path config = retargeted.resolve(AdapterStore.CONFIG_FILE);
        Files.writeString(config, Files.readString(config).replace("\"v_proj\"", "\"k_proj\""));

        Result result = graft("forward", "--model", model.toString(), "--adapter", retargeted.toString(), "--input", input.toString(),
                "--output", scratch.resolve("never-retargeted.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        String module = "base_model.model.model.layers.%d.self_attn.%s.lora_%s.weight";
        assertThat(result.err()).isEqualTo("graft forward: adapter 'retargeted' (method lora): the checkpoint does not fit the adapter's configuration: "
                + "4 keys in the file match no module of the adapter: '" + String.format(module, 0, "v_proj", "A") + "', '" + String.format(module, 0, "v_proj", "B")
                + "', '" + String.format(module, 1, "v_proj", "A") + "' and 1 more; "
                + "4 keys the adapter expects are not in the file: '" + String.format(module, 0, "k_proj", "A") + "' (shape (4, 64)), '"
                + String.format(module, 0, "k_proj", "B") + "' (shape (32, 4)), '" + String.format(module, 1, "k_proj", "A") + "' (shape (4, 64)) and 1 more. "
                + "Check target_modules (and layers_to_transform) in adapter_config.json against the keys in adapter_model.safetensors" + System.lineSeparator());
    }

    @Test
    void testAShapeMismatchListsTheFirstKeysAndACount() throws IOException {
        Path rerank = copyAdapter(first, "rerank");
        Path config = rerank.resolve(AdapterStore.CONFIG_FILE);
        Files.writeString(config, Files.readString(config).replaceAll("\"r\"\\s*:\\s*4", "\"r\": 2"));

        Result result = graft("forward", "--model", model.toString(), "--adapter", rerank.toString(), "--input", input.toString(),
                "--output", scratch.resolve("never-rerank.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).hasLineCount(1)
                .startsWith("graft forward: adapter 'rerank' (method lora): checkpoint key 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape (4, 64), expected (2, 64); ")
                .contains(" and 5 more; the checkpoint and the adapter's configuration disagree");
        assertThat(scratch.resolve("never-rerank.safetensors")).doesNotExist();
    }

    private static Path copyAdapter(Path source, String name) throws IOException {
        Path copy = scratch.resolve(name);
        Files.createDirectories(copy);
        for (String file : List.of(AdapterStore.CONFIG_FILE, AdapterStore.WEIGHTS_FILE)) {
            Files.copy(source.resolve(file), copy.resolve(file));
        }
        return copy;
    }

    @Test
    void testMergingAPrefixIsRefusedWithOneLineAndNothingWritten() {
        Path output = scratch.resolve("never");

        Result result = graft("merge", "--model", model.toString(), "--adapter", prefix.toString(), "--output", output.toString());

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.err().strip()).hasLineCount(1).startsWith("graft merge: ").contains("virtual-tokens").contains("prefix").contains("cannot be merged");
        assertThat(output).doesNotExist();
    }

    @Test
    void testMalformedSafetensorsGiveOneLineAndANonZeroExit() throws IOException {
        byte[] valid = Files.readAllBytes(input);
        Path truncated = Files.write(scratch.resolve("truncated.safetensors"), java.util.Arrays.copyOf(valid, valid.length - 3));
        Path hugeHeader = Files.write(scratch.resolve("huge-header.safetensors"), new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0, 0, 0, 0, '{', '}'});
        Path badJson = scratch.resolve("bad-json.safetensors");
        byte[] header = "{\"input_ids\": [".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(8 + header.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(header.length).put(header);
        Files.write(badJson, bytes.array());

        for (Path file : List.of(truncated, hugeHeader, badJson)) {
            Result result = graft("forward", "--model", model.toString(), "--input", file.toString(), "--output", scratch.resolve("never.safetensors").toString());
            assertThat(result.exitCode()).as("exit code for %s", file.getFileName()).isEqualTo(1);
            assertThat(result.err().strip()).as("error for %s", file.getFileName()).hasLineCount(1).startsWith("graft forward: ").contains(file.getFileName().toString());
        }
        assertThat(scratch.resolve("never.safetensors")).doesNotExist();
    }

    private static void saveAdapter(NDManager manager, PeftMethod method, Map<String, Object> options, Map<String, Object> targets, Path directory, long seed) {
        saveAdapter(manager, method, options, targets, Composition.SUM, directory, seed);
    }

    private static void saveAdapter(NDManager manager, PeftMethod method, Map<String, Object> options, Map<String, Object> targets, Composition composition,
            Path directory, long seed) {
        NDManager modelManager = manager.newSubManager();
        PeftModel peftModel = new PeftModel(LlamaForCausalLM.create(CONFIG, LlamaWeights.random(CONFIG, modelManager, 21), modelManager, null));
        Adapter adapter = peftModel.addAdapter(new AdapterSpec("default", options, TargetRules.fromConfig(targets), composition), method);
        ai.djl.engine.Engine.getInstance().setRandomSeed((int) seed);
        adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(
                modelManager.randomNormal(0f, 0.2f, parameter.getArray().getShape(), DataType.FLOAT32)));
        AdapterStore.save(peftModel, "default", directory, model.toString());
        modelManager.close();
    }

    private static void assertSucceeds(String... args) {
        Result result = graft(args);
        assertThat(result.exitCode()).as("graft %s: %s", String.join(" ", args), result.err()).isZero();
    }


    private static float[] logits(Path file) {
        try (NDManager manager = NDManager.newBaseManager();
                SafetensorsFile outputs = SafetensorsFile.open(file)) {
            return outputs.load("logits", manager).toFloatArray();
        }
    }

    private static void assertClose(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        List<String> problems = new ArrayList<>();
        for (int index = 0; index < actual.length && problems.size() < 3; index++) {
            if (Math.abs(actual[index] - expected[index]) > 1e-4) {
                problems.add(index + ": " + actual[index] + " vs " + expected[index]);
            }
        }
        assertThat(problems).as("%s within 1e-4", what).isEmpty();
        assertThat(actual[0]).isCloseTo(expected[0], offset(1e-4f));
    }
}
