package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.FusionLayer;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.Fusion;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.FusionStore;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SublayerModule;
import dev.graft.spi.SublayerSite;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdapterFusion ({@link Fuse}) on the tiny Llama over three sublayer adapters: the fused term is AdapterHub's
 * {@code BertFusion} (dynamic config) computed by hand, a fusion forced onto one adapter equals that adapter alone,
 * the parameter count is AdapterHub's, only the fusion trains, save and load give identical outputs, and nonsense is
 * refused before any tensor is made.
 */
final class TestFusion {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final List<String> FUSED = List.of("a", "b", "c");

    private final LlamaConfig config = LlamaConfig.tiny();
    private NDManager manager;
    private PeftModel model;

    @BeforeEach
    void createModel() {
        manager = NDManager.newBaseManager();
        model = modelWithAdapters();
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    private PeftModel modelWithAdapters() {
        PeftModel peft = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager, null));
        // adapter a adds a large constant on feature 0, which the forced fusion below keys on
        add(peft, "a", site -> new FixedModules.ShiftedSublayer(site, 0.2f, 20f));
        add(peft, "b", site -> new FixedModules.ShiftedSublayer(site, -0.15f, 0f));
        add(peft, "c", site -> new FixedModules.Sublayer(site, 0.1f, 0.05f));
        peft.addAdapter(new AdapterSpec("lora", Map.of(), TargetRules.fromConfig(Map.of("target_modules", "all-linear")), Composition.SUM),
                RoutedMethods.method("t-low-rank", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 1)));
        return peft;
    }

    @Test
    void testTheFusedTermIsAdapterHubsDynamicFusionComputedByHand() {
        Fusion fusion = model.addFusion(Fuse.of(FUSED));
        SublayerSite site = firstSublayer();
        randomise(fusion.layers().get(site), 5, 0.1f);
        model.setActiveBlock(Fuse.of(FUSED));
        int hidden = config.hiddenSize();
        try (NDManager scope = manager.newSubManager()) {
            ParameterStore store = new ParameterStore(scope, false);
            NDArray input = random(scope, new Shape(2, 3, hidden), 8);
            NDArray output = random(scope, new Shape(2, 3, hidden), 9);
            float[] fused = SiteOps.sublayer(store, model.base().attachments(site), input, output, false).toFloatArray();
            float[] h = output.toFloatArray();
            float[][] deltas = new float[FUSED.size()][];
            for (int index = 0; index < FUSED.size(); index++) {
                SublayerModule module = (SublayerModule) model.adapter(FUSED.get(index)).attachments().get(site).module();
                deltas[index] = module.delta(store, input, output, false).toFloatArray();
            }
            List<Parameter> parameters = fusion.layers().get(site).fusionParameters();
            float[] wq = parameters.get(0).getArray().toFloatArray();
            float[] bq = parameters.get(1).getArray().toFloatArray();
            float[] wk = parameters.get(2).getArray().toFloatArray();
            float[] bk = parameters.get(3).getArray().toFloatArray();
            float[] wv = parameters.get(4).getArray().toFloatArray();
            double largest = 0;
            for (int token = 0; token < 6; token++) {
                int offset = token * hidden;
                double[] query = affine(wq, bq, h, offset, hidden);
                double[] scores = new double[FUSED.size()];
                double[][] values = new double[FUSED.size()][];
                for (int index = 0; index < FUSED.size(); index++) {
                    double[] key = affine(wk, bk, deltas[index], offset, hidden);
                    for (int feature = 0; feature < hidden; feature++) {
                        scores[index] += query[feature] * key[feature];
                    }
                    values[index] = affine(wv, null, deltas[index], offset, hidden);
                }
                double maximum = Math.max(scores[0], Math.max(scores[1], scores[2]));
                double total = 0;
                for (int index = 0; index < scores.length; index++) {
                    scores[index] = Math.exp(scores[index] - maximum);
                    total += scores[index];
                }
                for (int feature = 0; feature < hidden; feature++) {
                    double expected = h[offset + feature];
                    for (int index = 0; index < FUSED.size(); index++) {
                        expected += scores[index] / total * values[index][feature];
                    }
                    largest = Math.max(largest, Math.abs(expected - fused[offset + feature]));
                }
            }
            assertThat(largest).isLessThan(1e-5);
        }
    }

    @Test
    void testAFusionForcedOntoOneAdapterEqualsThatAdapterAlone() {
        model.setActiveAdapters(List.of("a"));
        float[] alone = logits(model);
        Fusion fusion = model.addFusion(Fuse.of(FUSED));
        // Q = 0 with b_Q = 100·e₀ and K = e₀e₀ᵀ: the score of adapter i is 100·(dᵢ)₀, and only a adds 20 there, so the
        // softmax is one-hot on a; V = I exactly (its initial off-diagonal 1e-6 set to 0)
        for (FusionLayer layer : fusion.layers().values()) {
            int hidden = layer.hiddenSize();
            List<Parameter> parameters = layer.fusionParameters();
            float[] queryBias = new float[hidden];
            queryBias[0] = 100f;
            float[] keyWeight = new float[hidden * hidden];
            keyWeight[0] = 1f;
            float[] identity = new float[hidden * hidden];
            for (int feature = 0; feature < hidden; feature++) {
                identity[feature * hidden + feature] = 1f;
            }
            parameters.get(0).getArray().set(new float[hidden * hidden]);
            parameters.get(1).getArray().set(queryBias);
            parameters.get(2).getArray().set(keyWeight);
            parameters.get(3).getArray().set(new float[hidden]);
            parameters.get(4).getArray().set(identity);
        }
        model.setActiveBlock(Fuse.of(FUSED));
        assertThat(model.activeAdapters()).containsExactly("a", "b", "c");
        float[] fused = logits(model);
        assertThat(maximumDifference(fused, alone)).isLessThan(1e-5);
        model.setActiveBlock(null);
        assertThat(maximumDifference(logits(model), alone)).as("the sum of a, b and c is not a alone").isGreaterThan(1e-3);
    }

    @Test
    void testTheParameterCountIsAdapterHubsAndOnlyTheFusionTrains() {
        model.setTrainable("lora", false);
        long before = model.trainableParameterCount();
        assertThat(before).isZero();
        model.setTrainable("lora", true);
        long lora = model.trainableParameterCount();
        Fusion fusion = model.addFusion(Fuse.of("abc", FUSED));
        // AdapterHub's BertFusion with DynamicAdapterFusionConfig per fused layer: query Linear(h, h) with bias (h² + h),
        // key Linear(h, h) with bias (h² + h), value Linear(h, h) without bias (h²): 3h² + 2h; one per sublayer site
        // (attention and MLP of each layer) here, as AdapterHub has one per adapter position
        int h = config.hiddenSize();
        int sites = 2 * config.numLayers();
        assertThat(fusion.layers()).hasSize(sites);
        assertThat(FusionLayer.parameterCount(h)).isEqualTo(3L * h * h + 2L * h);
        assertThat(model.trainableParameterCount() - lora).isEqualTo(sites * (3L * h * h + 2L * h));
        assertThat(model.adapter("a").isTrainable()).isFalse();
        assertThat(model.adapter("b").isTrainable()).isFalse();

        model.setTrainable("lora", false);
        model.setActiveBlock(Fuse.of("abc", FUSED));
        try (NDManager batch = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), true).singletonOrThrow();
            collector.backward(logits.square().sum());
            for (FusionLayer layer : fusion.layers().values()) {
                for (Parameter parameter : layer.fusionParameters()) {
                    assertThat(maximumAbsolute(parameter.getArray().getGradient().toFloatArray())).as("%s at %s", parameter.getName(), layer.site().name())
                            .isGreaterThan(0);
                }
            }
        }
    }

    @Test
    void testAFusionSavedAndLoadedGivesIdenticalOutputs(@TempDir Path folder) throws Exception {
        Fusion fusion = model.addFusion(Fuse.of("abc", FUSED));
        int seed = 100;
        for (FusionLayer layer : fusion.layers().values()) {
            randomise(layer, seed++, 0.2f);
        }
        model.setActiveBlock(Fuse.of("abc", FUSED));
        float[] expected = logits(model);
        Path directory = folder.resolve(FusionStore.FUSION_FOLDER).resolve("abc");
        FusionStore.save(model, "abc", directory);
        assertThat(Files.readString(directory.resolve(FusionStore.CONFIG_FILE))).contains("\"adapters\" : [ \"a\", \"b\", \"c\" ]", "\"value_initialized\" : true");
        String firstSite = fusion.layers().keySet().iterator().next().name();
        assertThat(new String(Files.readAllBytes(directory.resolve(FusionStore.WEIGHTS_FILE)), java.nio.charset.StandardCharsets.ISO_8859_1))
                .contains("base_model.model." + firstSite + ".adapter_fusion.query.weight", "base_model.model." + firstSite + ".adapter_fusion.value.weight");

        PeftModel reloaded = modelWithAdapters();
        Fusion loaded = FusionStore.load(reloaded, directory);
        assertThat(loaded.adapterNames()).containsExactly("a", "b", "c");
        reloaded.setActiveBlock(Fuse.of("abc", FUSED));
        assertThat(maximumDifference(logits(reloaded), expected)).isLessThan(1e-6);

        PeftModel without = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager, null));
        add(without, "a", site -> new FixedModules.ShiftedSublayer(site, 0.2f, 20f));
        assertThatThrownBy(() -> FusionStore.load(without, directory))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the fuse block names adapter 'b', which this model does not have; adapters: [a]");
        assertThat(without.fusions()).isEmpty();
    }

    @Test
    void testNonsenseIsRefusedBeforeAnyTensorWithTheReason() {
        assertThatThrownBy(() -> model.addFusion(Fuse.of(List.of("a", "lora"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("a fuse block fuses adapters at sublayer sites only (bottleneck adapters, AdapterFusion); adapter 'lora' (method t-low-rank) "
                        + "has a module at LINEAR site ")
                .hasMessageEndingWith("whose contribution is not a sublayer output the fusion can attend over: use an average block, or sum composition");
        assertThat(model.fusions()).isEmpty();
        assertThat(model.adapter("a").isTrainable()).isTrue();
        assertThatThrownBy(() -> model.setActiveBlock(Fuse.of(FUSED)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the fuse block names fusion 'a_b_c', which this model does not have (fusions: []): add it with addFusion first");
        assertThatThrownBy(() -> Fuse.of("a,b", FUSED))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fusion name 'a,b' is invalid: use letters, digits, '_' and '-', starting with a letter or digit");
        model.addFusion(Fuse.of(FUSED));
        assertThatThrownBy(() -> model.addFusion(Fuse.of(FUSED)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a fusion named 'a_b_c' already exists (fusing [a, b, c]); delete it first or choose another name");
        assertThatThrownBy(() -> model.setActiveBlock(Fuse.of("a_b_c", List.of("a", "b"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fusion 'a_b_c' fuses adapters [a, b, c], but the fuse block names [a, b]");
        assertThatThrownBy(() -> model.deleteAdapter("b"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("adapter 'b' is fused by fusion 'a_b_c' ([a, b, c]); delete the fusion first");
        assertThatThrownBy(() -> add(model, "fusion", site -> new FixedModules.Sublayer(site, 0.1f, 0f)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("adapter name 'fusion' is reserved: a multi-adapter folder keeps its AdapterFusion layers in a sub-folder of that name; choose another name");
        model.setActiveBlock(Fuse.of(FUSED));
        assertThatThrownBy(() -> model.merge(List.of("lora")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Deployments that must merge use sum composition");
        model.deleteFusion("a_b_c");
        assertThat(model.activeBlock()).isEmpty();
        assertThat(model.base().attachments(firstSublayer()).fusion()).isEmpty();
        model.deleteAdapter("b");
    }

    private static void add(PeftModel peft, String name, java.util.function.Function<Site, SublayerModule> factory) {
        peft.addAdapter(new AdapterSpec(name, Map.of(), TargetRules.fromConfig(Map.of()), Composition.SUM),
                RoutedMethods.method("t-sublayer-" + name, SiteKind.SUBLAYER, SublayerModule.class, factory::apply));
    }

    private SublayerSite firstSublayer() {
        return model.base().sites().stream().filter(SublayerSite.class::isInstance).map(SublayerSite.class::cast).findFirst().orElseThrow();
    }

    private static void randomise(FusionLayer layer, long seed, float deviation) {
        Random random = new Random(seed);
        for (Parameter parameter : layer.fusionParameters()) {
            float[] values = new float[Math.toIntExact(parameter.getArray().getShape().size())];
            for (int index = 0; index < values.length; index++) {
                values[index] = (float) (deviation * random.nextGaussian());
            }
            parameter.getArray().set(values);
        }
    }

    /** {@code W·x + b} for the token at {@code offset}, {@code W} row-major {@code (out, in)}. */
    private static double[] affine(float[] weight, float[] bias, float[] x, int offset, int size) {
        double[] result = new double[size];
        for (int row = 0; row < size; row++) {
            double sum = bias == null ? 0 : bias[row];
            for (int column = 0; column < size; column++) {
                sum += (double) weight[row * size + column] * x[offset + column];
            }
            result[row] = sum;
        }
        return result;
    }

    private static NDArray random(NDManager scope, Shape shape, long seed) {
        Random random = new Random(seed);
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int index = 0; index < values.length; index++) {
            values[index] = (float) random.nextGaussian();
        }
        return scope.create(values, shape);
    }

    private float[] logits(PeftModel peft) {
        try (NDManager batch = manager.newSubManager()) {
            return peft.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), false).singletonOrThrow().toFloatArray();
        }
    }

    private static double maximumDifference(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double largest = 0;
        for (int index = 0; index < actual.length; index++) {
            largest = Math.max(largest, Math.abs(actual[index] - expected[index]));
        }
        return largest;
    }

    private static double maximumAbsolute(float[] values) {
        double largest = 0;
        for (float value : values) {
            largest = Math.max(largest, Math.abs(value));
        }
        return largest;
    }
}
