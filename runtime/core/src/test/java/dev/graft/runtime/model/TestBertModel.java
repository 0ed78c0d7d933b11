package dev.graft.runtime.model;

import static dev.graft.runtime.model.ModelAssertions.assertClose;
import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Attachment;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class TestBertModel {
    private static final long[][] IDS = {{2, 17, 99, 3, 42, 7, 1}, {2, 64, 12, 55, 1, 0, 0}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0, 0}};
    private static final long[][] TYPES = {{0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, 0, 1, 0, 0}};

    @Test
    void testOutputsMatchReferenceWithPaddingAndTokenTypes() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Fixture fixture = Fixture.of(config, manager, 42);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            try (NDManager batch = manager.newSubManager()) {
                NDList output = model.forward(new ParameterStore(batch, false), inputs(batch), false);
                assertThat(output).hasSize(2);
                assertThat(output.get(0).getShape()).isEqualTo(new Shape(2, 7, 32));
                assertThat(output.get(1).getShape()).isEqualTo(new Shape(2, 32));
                assertMatches(output, reference.forward(IDS, MASK, TYPES, null, BertReference.Additions.none()));
            }
        }
    }

    @Test
    void testPaddingAndTokenTypesChangeTheOutput() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = BertModel.create(config, BertWeights.random(config, manager, 42), manager, null);
            ParameterStore store = new ParameterStore(manager, false);
            float[] full = model.forward(store, inputs(manager), false).get(0).toFloatArray();
            float[] withoutTypes = model.forward(store, new NDList(manager.create(IDS), manager.create(MASK)), false).get(0).toFloatArray();
            float[] withoutMask = model.forward(store, new NDList(manager.create(IDS)), false).get(0).toFloatArray();
            assertThat(maximumDifference(full, withoutTypes)).isGreaterThan(1e-2);
            assertThat(maximumDifference(full, withoutMask)).isGreaterThan(1e-2);
        }
    }

    @Test
    void testGivenPositionIdsAreUsed() {
        BertConfig config = BertConfig.tiny();
        long[][] positions = {{6, 5, 4, 3, 2, 1, 0}, {10, 11, 12, 13, 14, 15, 16}};
        try (NDManager manager = NDManager.newBaseManager()) {
            Fixture fixture = Fixture.of(config, manager, 3);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            NDList output = model.forward(new ParameterStore(manager, false),
                    new NDList(manager.create(IDS), manager.create(MASK), manager.create(TYPES), manager.create(positions)), false);
            assertMatches(output, reference.forward(IDS, MASK, TYPES, positions, BertReference.Additions.none()));
        }
    }

    @Test
    void testPromptTokensTakeTheFirstPositionsAndThePoolerReadsTheFirstOne() {
        BertConfig config = BertConfig.tiny();
        double[][] prompt = FixedModules.random(1, 3, config.hiddenSize(), 5)[0];
        try (NDManager manager = NDManager.newBaseManager()) {
            Fixture fixture = Fixture.of(config, manager, 11);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            attach(model, new FixedModules.Prompt(site(model, SiteKind.EMBEDDING, "embeddings.word_embeddings"), prompt));
            NDList output = model.forward(new ParameterStore(manager, false), inputs(manager), false);
            assertThat(output.get(0).getShape()).isEqualTo(new Shape(2, 7, 32));
            assertMatches(output, reference.forward(IDS, MASK, TYPES, null, new BertReference.Additions(prompt, null, null, null)));
        }
    }

    @Test
    void testPrefixKeysAndValuesAreAlwaysVisibleAndShiftPositions() {
        BertConfig config = BertConfig.tiny();
        int heads = config.numAttentionHeads();
        double[][][][] keys = new double[config.numLayers()][][][];
        double[][][][] values = new double[config.numLayers()][][][];
        try (NDManager manager = NDManager.newBaseManager()) {
            Fixture fixture = Fixture.of(config, manager, 13);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            for (int layer = 0; layer < config.numLayers(); layer++) {
                keys[layer] = FixedModules.random(heads, 2, config.headDim(), 100 + layer);
                values[layer] = FixedModules.random(heads, 2, config.headDim(), 200 + layer);
                attach(model, new FixedModules.Prefix(site(model, SiteKind.ATTENTION, "encoder.layer." + layer + ".attention.self"), keys[layer], values[layer]));
            }
            NDList output = model.forward(new ParameterStore(manager, false), inputs(manager), false);
            assertMatches(output, reference.forward(IDS, MASK, TYPES, null, new BertReference.Additions(null, keys, values, null)));
        }
    }

    @Test
    void testSublayerSitesSeeTheSublayerInputAndTheDenseOutputBeforeTheResidual() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Fixture fixture = Fixture.of(config, manager, 17);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            for (Site site : model.sites()) {
                if (site.kind() == SiteKind.SUBLAYER) {
                    attach(model, new FixedModules.Sublayer(site, 0.5f, 0.25f));
                }
            }
            NDList output = model.forward(new ParameterStore(manager, false), inputs(manager), false);
            assertMatches(output, reference.forward(IDS, MASK, TYPES, null, new BertReference.Additions(null, null, null, new double[] {0.5, 0.25})));
        }
    }

    @Test
    void testGeluIsTheExactErfForm() {
        double[] inputs = new double[241];
        float[] values = new float[inputs.length];
        for (int index = 0; index < inputs.length; index++) {
            values[index] = (float) (-6 + index * 0.05);
            inputs[index] = values[index];
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] actual = Activation.gelu(manager.create(values)).toFloatArray();
            double tanhGap = 0;
            for (int index = 0; index < inputs.length; index++) {
                double exact = ReferenceMath.gelu(inputs[index]);
                assertThat((double) actual[index]).as("gelu(%s)", inputs[index]).isCloseTo(exact, offset(2e-6));
                tanhGap = Math.max(tanhGap, Math.abs(ReferenceMath.geluTanh(inputs[index]) - exact));
            }
            assertThat(tanhGap).as("the tanh approximation is told apart").isGreaterThan(1e-4);
        }
    }

    @Test
    void testReferenceErfMatchesKnownValues() {
        assertThat(ReferenceMath.erf(0.5)).isCloseTo(0.5204998778130465, offset(1e-14));
        assertThat(ReferenceMath.erf(1.0)).isCloseTo(0.8427007929497149, offset(1e-14));
        assertThat(ReferenceMath.erf(-2.0)).isCloseTo(-0.9953222650189527, offset(1e-14));
        assertThat(ReferenceMath.erf(3.0)).isCloseTo(0.9999779095030014, offset(1e-14));
        assertThat(ReferenceMath.erf(4.5)).isCloseTo(0.9999999998033839, offset(1e-14));
    }

    @Test
    void testSitesAreNamedLikeHuggingFace() {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = BertModel.create(BertConfig.tiny(), BertWeights.random(BertConfig.tiny(), manager, 1), manager, null);
            List<String> linear = model.sites().stream().filter(site -> site.kind() == SiteKind.LINEAR).map(Site::name).toList();
            assertThat(linear).hasSize(13).startsWith("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.key",
                    "encoder.layer.0.attention.self.value", "encoder.layer.0.attention.output.dense", "encoder.layer.0.intermediate.dense",
                    "encoder.layer.0.output.dense").endsWith("pooler.dense");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.SUBLAYER).extracting(Site::name)
                    .containsExactly("encoder.layer.0.attention.output", "encoder.layer.0.output", "encoder.layer.1.attention.output", "encoder.layer.1.output");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.ATTENTION).extracting(Site::name)
                    .containsExactly("encoder.layer.0.attention.self", "encoder.layer.1.attention.self");
            assertThat(model.sites()).filteredOn(site -> site.kind() == SiteKind.EMBEDDING).extracting(Site::name).containsExactly("embeddings.word_embeddings");
            LinearSite intermediate = model.linearSite("encoder.layer.1.intermediate.dense").site();
            assertThat(intermediate.inFeatures()).isEqualTo(32);
            assertThat(intermediate.outFeatures()).isEqualTo(64);
            assertThat(intermediate.layerIndex()).isEqualTo(1);
            assertThat(model.outputLayerNames()).isEmpty();
            assertThat(model.modelType()).isEqualTo("bert");
            assertThat(model.context().headDim()).isEqualTo(8);
        }
    }

    @Test
    void testWithoutPoolerOnlyTheLastHiddenStateComesBack() {
        BertConfig config = BertConfig.tiny().withPoolingLayer(false);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThat(BertWeights.shapes(config)).doesNotContainKey("pooler.dense.weight");
            Fixture fixture = Fixture.of(config, manager, 21);
            BertModel model = fixture.model();
            BertReference reference = fixture.reference();
            NDList output = model.forward(new ParameterStore(manager, false), inputs(manager), false);
            assertThat(output).hasSize(1);
            assertMatches(output, reference.forward(IDS, MASK, TYPES, null, BertReference.Additions.none()));
            assertThat(model.sites()).extracting(Site::name).doesNotContain("pooler.dense");
        }
    }

    @Test
    void testStateDictHoldsEveryWeightByHuggingFaceKey() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = BertWeights.random(config, manager, 9);
            Map<String, double[]> plain = ModelAssertions.plain(weights);
            BertModel model = BertModel.create(config, weights, manager, null);
            assertThat(model.stateDict().keySet()).containsExactlyElementsOf(BertWeights.shapes(config).keySet());
            model.stateDict().forEach((key, array) -> assertThat(ModelAssertions.plain(Map.of(key, array)).get(key)).as(key).containsExactly(plain.get(key)));
        }
    }

    @Test
    void testForwardLeavesNothingBehindInTheModelManager() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            BertModel model = BertModel.create(config, BertWeights.random(config, modelManager, 1), modelManager, null);
            attach(model, new FixedModules.Prompt(site(model, SiteKind.EMBEDDING, "embeddings.word_embeddings"), FixedModules.random(1, 2, 32, 1)[0]));
            attach(model, new FixedModules.Prefix(site(model, SiteKind.ATTENTION, "encoder.layer.1.attention.self"),
                    FixedModules.random(4, 2, 8, 2), FixedModules.random(4, 2, 8, 3)));
            attach(model, new FixedModules.Sublayer(site(model, SiteKind.SUBLAYER, "encoder.layer.0.output"), 0.1f, 0.1f));
            modelManager.cap();
            try (NDManager batch = manager.newSubManager()) {
                model.forward(new ParameterStore(batch, false), inputs(batch), false);
                model.forward(new ParameterStore(batch, false), inputs(batch), false);
            }
        }
    }

    @Test
    void testBadWeightsAndInputsAreNamed() {
        BertConfig config = BertConfig.tiny();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = new LinkedHashMap<>(BertWeights.random(config, manager, 1));
            NDArray query = weights.remove("encoder.layer.1.attention.self.query.bias");
            assertThatThrownBy(() -> BertModel.create(config, weights, manager, null))
                    .hasMessage("BERT checkpoint is missing weight 'encoder.layer.1.attention.self.query.bias' (expected shape (32))");
            weights.put("encoder.layer.1.attention.self.query.bias", query);
            weights.put("cls.predictions.bias", manager.zeros(new Shape(100)));
            assertThatThrownBy(() -> BertModel.create(config, weights, manager, null))
                    .hasMessageStartingWith("BERT checkpoint has unexpected weights [cls.predictions.bias]");
            weights.remove("cls.predictions.bias");
            weights.put("embeddings.position_ids", manager.arange(40L).reshape(1, 40));
            BertModel model = BertModel.create(config, weights, manager, null);
            ParameterStore store = new ParameterStore(manager, false);
            assertThatThrownBy(() -> model.forward(store, new NDList(manager.create(new long[][] {{1, 100}})), false))
                    .hasMessage("input_ids holds ids from 1 to 100, but this model has 100 (vocab_size)");
            assertThatThrownBy(() -> model.forward(store, new NDList(manager.create(new long[][] {{1, 2}}), manager.ones(new Shape(1, 2)), manager.create(new long[][] {{0, 2}})), false))
                    .hasMessage("token_type_ids holds ids from 0 to 2, but this model has 2 (type_vocab_size)");
            assertThatThrownBy(() -> model.forward(store, new NDList(manager.create(new long[][] {{1, 2}}), manager.ones(new Shape(1, 3))), false))
                    .hasMessage("attention_mask has shape (1, 3), but input_ids has (1, 2)");
            assertThatThrownBy(() -> model.forward(store, new NDList(manager.zeros(new Shape(1, 41), ai.djl.ndarray.types.DataType.INT64)), false))
                    .hasMessageStartingWith("position 40 (41 tokens after 0 prompt and 0 prefix tokens) is beyond max_position_embeddings 40");
        }
    }

    /** Asserts {@code last_hidden_state} and, with a pooler, {@code pooler_output} equal the reference's. */
    private static void assertMatches(NDList output, BertReference.Output expected) {
        assertClose(output.get(0).toFloatArray(), expected.lastHiddenState());
        if (output.size() > 1) {
            assertClose(output.get(1).toFloatArray(), new double[][][] {expected.pooled()});
        }
    }

    /** A model of seeded random weights and the reference over the same weights. */
    private record Fixture(BertModel model, BertReference reference) {
        static Fixture of(BertConfig config, NDManager manager, long seed) {
            Map<String, NDArray> weights = BertWeights.random(config, manager, seed);
            BertReference reference = new BertReference(config, ModelAssertions.plain(weights));
            return new Fixture(BertModel.create(config, weights, manager, null), reference);
        }
    }

    private static void attach(BertModel model, MethodModule module) {
        model.attachments(module.site()).add(new Attachment("fixed", "fixed", module, null));
    }

    private static Site site(BertModel model, SiteKind kind, String name) {
        return model.sites().stream().filter(site -> site.kind() == kind && site.name().equals(name)).findFirst().orElseThrow();
    }

    private static NDList inputs(NDManager manager) {
        return new NDList(manager.create(IDS), manager.create(MASK), manager.create(TYPES));
    }
}
