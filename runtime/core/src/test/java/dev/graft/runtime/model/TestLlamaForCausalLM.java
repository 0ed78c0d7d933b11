package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class TestLlamaForCausalLM {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};

    @Test
    void testLogitsMatchReferenceWithGroupedQueryAttentionAndLeftPadding() {
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = LlamaWeights.random(config, manager, 42);
            Map<String, double[]> plain = ModelAssertions.plain(weights);
            LlamaForCausalLM model = LlamaForCausalLM.create(config, weights, manager, null);
            float[] logits;
            try (NDManager batch = manager.newSubManager()) {
                NDList output = model.forward(new ParameterStore(batch, false), inputs(batch), false);
                assertThat(output.singletonOrThrow().getShape()).isEqualTo(new Shape(2, 6, 128));
                logits = output.singletonOrThrow().toFloatArray();
            }
            double[][][] expected = new LlamaReference(config, plain).logits(IDS, MASK, 0, null, null);
            ModelAssertions.assertClose(logits, expected, MASK);
        }
    }

    @Test
    void testTiedEmbeddingsAndBiasesMatchReference() {
        LlamaConfig config = new LlamaConfig(50, 32, 48, 1, 4, 4, 8, 1e-5, 500000.0, true, true, true);
        long[][] ids = {{1, 2, 3, 49}};
        int[][] mask = {{1, 1, 1, 1}};
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = LlamaWeights.random(config, manager, 7);
            Map<String, double[]> plain = ModelAssertions.plain(weights);
            LlamaForCausalLM model = LlamaForCausalLM.create(config, weights, manager, null);
            NDList output = model.forward(new ParameterStore(manager, false),
                    new NDList(manager.create(ids), manager.create(mask)), false);
            ModelAssertions.assertClose(output.singletonOrThrow().toFloatArray(), new LlamaReference(config, plain).logits(ids, mask, 0, null, null), mask);
        }
    }

    @Test
    void testRopeScalingMatchesReference() {
        LlamaConfig plain = LlamaConfig.tiny();
        long[][] ids = {{5, 17, 99, 3, 42, 7, 11, 60, 2, 90, 31, 8}};
        int[][] mask = {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}};
        for (RopeScaling scaling : List.of(RopeScaling.linear(4.0), RopeScaling.llama3(8.0, 1.0, 4.0, 64))) {
            LlamaConfig config = plain.withRopeScaling(scaling);
            try (NDManager manager = NDManager.newBaseManager()) {
                Map<String, NDArray> weights = LlamaWeights.random(config, manager, 42);
                Map<String, double[]> values = ModelAssertions.plain(weights);
                LlamaForCausalLM model = LlamaForCausalLM.create(config, weights, manager, null);
                float[] logits = model.forward(new ParameterStore(manager, false), new NDList(manager.create(ids), manager.create(mask)), false).singletonOrThrow().toFloatArray();
                ModelAssertions.assertClose(logits, new LlamaReference(config, values).logits(ids, mask, 0, null, null), mask);
                double[][][] unscaled = new LlamaReference(plain, values).logits(ids, mask, 0, null, null);
                double difference = 0;
                for (int position = 0; position < ids[0].length; position++) {
                    for (int token = 0; token < plain.vocabularySize(); token++) {
                        difference = Math.max(difference, Math.abs(logits[position * plain.vocabularySize() + token] - unscaled[0][position][token]));
                    }
                }
                assertThat(difference).as("%s scaling changes the logits", scaling.type()).isGreaterThan(1e-3);
            }
        }
    }

    @Test
    void testSitesAreNamedLikeHuggingFace() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaForCausalLM model = LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 1), manager, null);
            List<String> linear = model.sites().stream().filter(site -> site.kind() == SiteKind.LINEAR).map(Site::name).toList();
            assertThat(linear).hasSize(15).startsWith("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj")
                    .contains("model.layers.1.mlp.down_proj").endsWith("lm_head");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.SUBLAYER).extracting(Site::name)
                    .containsExactly("model.layers.0.self_attn", "model.layers.0.mlp", "model.layers.1.self_attn", "model.layers.1.mlp");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.EMBEDDING).extracting(Site::name).containsExactly("model.embed_tokens");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.ATTENTION).hasSize(2);
            LinearSite valueProjection = model.linearSite("model.layers.0.self_attn.v_proj").site();
            assertThat(valueProjection.inFeatures()).isEqualTo(64);
            assertThat(valueProjection.outFeatures()).isEqualTo(32);
        }
    }

    @Test
    void testForwardLeavesNothingBehindInTheModelManager() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            LlamaForCausalLM model = LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 1), modelManager, null);
            modelManager.cap();
            try (NDManager batch = manager.newSubManager()) {
                model.forward(new ParameterStore(batch, false), inputs(batch), false);
                model.forward(new ParameterStore(batch, false), inputs(batch), false);
            }
        }
    }

    @Test
    void testMissingAndMisshapenWeightsAreNamed() {
        LlamaConfig config = LlamaConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = new LinkedHashMap<>(LlamaWeights.random(config, manager, 1));
            weights.remove("model.layers.1.mlp.up_proj.weight");
            assertThatThrownBy(() -> LlamaForCausalLM.create(config, weights, manager, null))
                    .hasMessage("Llama checkpoint is missing weight 'model.layers.1.mlp.up_proj.weight' (expected shape (128, 64))");
            weights.put("model.layers.1.mlp.up_proj.weight", manager.zeros(new Shape(64, 128)));
            assertThatThrownBy(() -> LlamaForCausalLM.create(config, weights, manager, null))
                    .hasMessageContaining("'model.layers.1.mlp.up_proj.weight' has shape (64, 128), but config.json implies (128, 64)");
        }
    }

    private static NDList inputs(NDManager manager) {
        return new NDList(manager.create(IDS), manager.create(MASK));
    }

    @Test
    void testAttentionDropoutAppliesInTrainingOnly() {
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] reference = logits(LlamaConfig.tiny(), manager, false, 0);
            LlamaConfig dropping = LlamaConfig.tiny().withAttentionDropout(0.5);
            assertThat(ModelAssertions.maximumDifference(logits(dropping, manager, false, 0), reference)).isZero();
            float[] first = logits(dropping, manager, true, 4);
            assertThat(ModelAssertions.maximumDifference(first, reference)).isGreaterThan(1e-3);
            assertThat(ModelAssertions.maximumDifference(logits(dropping, manager, true, 4), first)).isZero();
            assertThat(ModelAssertions.maximumDifference(logits(LlamaConfig.tiny(), manager, true, 4), reference)).isLessThan(1e-6);
        }
    }

    /** The logits of the tiny model with weights from seed 42, training or not, after seeding PyTorch's generator. */
    private static float[] logits(LlamaConfig config, NDManager manager, boolean training, int seed) {
        LlamaForCausalLM model = LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager, null);
        try (NDManager batch = manager.newSubManager()) {
            ai.djl.engine.Engine.getInstance().setRandomSeed(seed);
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), training).singletonOrThrow().toFloatArray();
        }
    }
}
