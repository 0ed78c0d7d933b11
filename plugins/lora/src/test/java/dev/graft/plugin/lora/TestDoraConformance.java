package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.AdapterFiles;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
import dev.graft.tck.MethodConformanceTest;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/** DoRA ({@code use_dora: true}) with r = 4, α = 8 on q_proj and v_proj passes the conformance kit on the runtime's tiny Llama. */
final class TestDoraConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new LoraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "lora_alpha", 8, "use_dora", true);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of("DoRA with lora_bias", Map.of("use_dora", true, "lora_bias", true));
    }

    @Test
    void testParameterCountOnTheTinyLlama() {
        // LoRA's 2·(4·128 + 4·96) = 1,792 on 2 layers of q_proj 64→64 and v_proj 64→32, plus one magnitude per output row:
        // 2·(64 + 32) = 192.
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).hasSize(4);
        assertThat(model.trainableParameterCount()).isEqualTo(1_984L);
    }

    @Test
    void testSavedAdapterHasPeftsKeysAndConfigAndReloads() throws IOException {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] expected = logits(model);
        Path directory = Files.createTempDirectory("graft-dora-");
        try {
            Map<String, Shape> saved = AdapterFiles.save(model, "default", directory);
            // PEFT's get_peft_model_state_dict drops ".weight" after lora_magnitude_vector (and the adapter name)
            assertThat(saved).containsEntry("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector", new Shape(64))
                    .containsEntry("base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector", new Shape(32))
                    .containsEntry("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", new Shape(4, 64));
            JsonNode config = new ObjectMapper().readTree(directory.resolve("adapter_config.json").toFile());
            assertThat(config.get("peft_type").asText()).isEqualTo("LORA");
            assertThat(config.get("use_dora").asBoolean()).isTrue();
            PeftModel reloaded = newModel();
            AdapterFiles.load(reloaded, directory, "default", method());
            assertThat(logits(reloaded)).as("logits after save and load").containsExactly(expected);
        }
        finally {
            try (Stream<Path> paths = Files.walk(directory)) {
                paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 4, "lora_alpha", 8, "lora_dropout", 0.5, "use_dora", true);
    }

    /** PEFT's layout: {@code lora_A.weight (r, in)}, {@code lora_B.weight (out, r)} and {@code lora_magnitude_vector (out)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of(
                "lora_A.weight", new Shape(4, linear.inFeatures()),
                "lora_B.weight", new Shape(linear.outFeatures(), 4),
                "lora_magnitude_vector", new Shape(linear.outFeatures()));
    }

    /** ΔW = (m/‖V‖)·V − W with V = W + s·B·A, s = α/r = 8/4 and ‖V‖ the norm of each row, in double. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        float[][] lowRank = Matrices.scaled(Matrices.product(tensors.site(site, "lora_B.weight").matrix(), tensors.site(site, "lora_A.weight").matrix()), 8.0 / 4);
        float[] magnitude = tensors.site(site, "lora_magnitude_vector").values();
        float[][] delta = new float[weight.length][];
        for (int row = 0; row < weight.length; row++) {
            double squares = 0;
            for (int column = 0; column < weight[row].length; column++) {
                double value = (double) weight[row][column] + lowRank[row][column];
                squares += value * value;
            }
            double factor = magnitude[row] / Math.sqrt(squares);
            delta[row] = new float[weight[row].length];
            for (int column = 0; column < weight[row].length; column++) {
                delta[row][column] = (float) (factor * ((double) weight[row][column] + lowRank[row][column]) - weight[row][column]);
            }
        }
        return delta;
    }
}
