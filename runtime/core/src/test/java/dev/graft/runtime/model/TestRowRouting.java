package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodModule;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.PromptModule;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SublayerModule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Per-row adapter routing on the tiny Llama: one batch whose rows use adapters of every module kind (additive,
 * input and output scaling, weight transform, sublayer, prefix, two prompts of different lengths) or none gives
 * each row the logits of that row run alone with only its adapter active, within 1e-5; nonsense is refused first.
 */
final class TestRowRouting {
    private static final double TOLERANCE = 1e-5;
    private static final long[][] IDS = {
        {5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}, {8, 9, 10, 11, 12, 13}, {0, 21, 22, 23, 24, 25},
        {30, 31, 32, 33, 34, 35}, {0, 0, 0, 41, 42, 43}, {50, 51, 52, 53, 54, 55}, {0, 61, 62, 63, 64, 65},
        {70, 71, 72, 73, 74, 75}, {80, 81, 82, 83, 84, 85}};
    private static final int[][] MASK = {
        {1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 1, 1},
        {1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}, {1, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 1, 1},
        {1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}};
    private static final List<String> ROWS = Arrays.asList("lora", null, "ia3", "ia3-in", "bat", "bottleneck", "prefix", "prompt", "prompt-long", null);

    private static final Set<String> GATED = Set.of("prefix", "prompt-long");

    private final LlamaConfig config = LlamaConfig.tiny();
    private NDManager manager;
    private PeftModel model;

    @BeforeEach
    void createModel() {
        manager = NDManager.newBaseManager();
        model = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager, null));
        add("lora", RoutedMethods.method("t-low-rank", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 1)));
        add("ia3", RoutedMethods.method("t-scale", SiteKind.LINEAR, MethodModule.class,
                site -> RoutedMethods.scale(site, ScalingLinearModule.Side.OUTPUT, 2)));
        add("ia3-in", RoutedMethods.method("t-input-scale", SiteKind.LINEAR, MethodModule.class,
                site -> RoutedMethods.scale(site, ScalingLinearModule.Side.INPUT, 3)));
        add("bat", RoutedMethods.method("t-weight", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.weightDelta(site, 4)));
        add("bottleneck", RoutedMethods.method("t-sublayer", SiteKind.SUBLAYER, SublayerModule.class, site -> new FixedModules.Sublayer(site, 0.3f, -0.2f)));
        add("prefix", RoutedMethods.method("t-prefix", SiteKind.ATTENTION, PrefixModule.class,
                site -> new FixedModules.Prefix(site, FixedModules.random(config.numKeyValueHeads(), 3, config.headDim(), 10 + site.layerIndex()),
                        FixedModules.random(config.numKeyValueHeads(), 3, config.headDim(), 20 + site.layerIndex()))));
        add("prompt", RoutedMethods.method("t-prompt", SiteKind.EMBEDDING, PromptModule.class,
                site -> new FixedModules.Prompt(site, FixedModules.random(1, 2, config.hiddenSize(), 30)[0])));
        add("prompt-long", RoutedMethods.method("t-long-prompt", SiteKind.EMBEDDING, PromptModule.class,
                site -> new FixedModules.Prompt(site, FixedModules.random(1, 4, config.hiddenSize(), 31)[0])));
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testEachRowEqualsItsRowAloneWithItsAdapter() {
        List<float[]> alone = new ArrayList<>();
        for (int row = 0; row < IDS.length; row++) {
            String adapter = ROWS.get(row);
            model.setActiveAdapters(adapter == null ? List.of() : List.of(adapter));
            alone.add(logits(new long[][] {IDS[row]}, new int[][] {MASK[row]}));
        }
        // routing ignores activation: every adapter active, or none, gives the same routed batch
        model.setActiveAdapters(List.of());
        float[] routed = routedLogits(ROWS);
        model.setActiveAdapters(List.copyOf(model.adapters().keySet()));
        float[] routedAllActive = routedLogits(ROWS);

        int vocabulary = config.vocabularySize();
        int perRow = IDS[0].length * vocabulary;
        for (int row = 0; row < IDS.length; row++) {
            float[] own = Arrays.copyOfRange(routed, row * perRow, (row + 1) * perRow);
            assertThat(maximumDifference(own, alone.get(row), MASK[row], vocabulary)).as("row %d (%s)", row, ROWS.get(row)).isLessThan(TOLERANCE);
            float[] ownAllActive = Arrays.copyOfRange(routedAllActive, row * perRow, (row + 1) * perRow);
            assertThat(maximumDifference(ownAllActive, alone.get(row), MASK[row], vocabulary)).as("row %d, all active", row).isLessThan(TOLERANCE);
        }
        // and every adapter changes its row: routing to it is not the base model by accident
        model.setActiveAdapters(List.of());
        for (int row = 0; row < IDS.length; row++) {
            if (ROWS.get(row) != null) {
                float[] base = logits(new long[][] {IDS[row]}, new int[][] {MASK[row]});
                assertThat(maximumDifference(base, alone.get(row), MASK[row], vocabulary)).as("%s changes its row", ROWS.get(row)).isGreaterThan(1e-3);
            }
        }
    }

    @Test
    void testRoutingIsLeftAfterTheForwardAndPositionIdsAreHonoured() {
        model.setActiveAdapters(List.of("prefix"));
        float[] before = logits(IDS, MASK);
        routedLogits(ROWS);
        assertThat(RowRouting.current()).isEmpty();
        assertThat(logits(IDS, MASK)).containsExactly(before);

        long[][] positions = {{0, 1, 2, 3, 4, 5}};
        List<String> rows = Arrays.asList("prompt-long", "prefix", null);
        long[][] ids = {IDS[0], IDS[2], IDS[4]};
        int[][] mask = {MASK[0], MASK[2], MASK[4]};
        float[] routed;
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(ids), batch.create(mask), batch.create(positions));
            routed = model.forward(new ParameterStore(batch, false), inputs, rows).singletonOrThrow().toFloatArray();
        }
        float[] unrouted = routedLogits(rows, ids, mask);
        assertThat(maximumDifference(routed, unrouted, new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, config.vocabularySize()))
                .isLessThan(TOLERANCE);
    }

    @Test
    void testNonsenseIsRefusedBeforeAnyTensor() {
        assertThatThrownBy(() -> model.route(Arrays.asList("lora", "nope")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("row 1 is routed to adapter 'nope', which this model does not have; adapters: "
                        + "[lora, ia3, ia3-in, bat, bottleneck, prefix, prompt, prompt-long]");
        assertThatThrownBy(() -> model.route(List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("one adapter name (or null for the base model) per row");
        assertThat(RowRouting.current()).isEmpty();

        try (NDManager batch = manager.newSubManager(); RowRouting ignored = model.route(Arrays.asList("lora", null))) {
            NDList inputs = new NDList(batch.create(new long[][] {IDS[0], IDS[1]}));
            assertThatThrownBy(() -> model.forward(new ParameterStore(batch, true), inputs, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("per-row adapter routing is for inference only: train each adapter on its own, without a routing");
            NDList three = new NDList(batch.create(new long[][] {IDS[0], IDS[1], IDS[2]}));
            assertThatThrownBy(() -> model.forward(new ParameterStore(batch, false), three, false))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("the batch has 3 rows, but the routing names an adapter (or null) for 2 rows");
            assertThatThrownBy(() -> model.route(List.of("lora")))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already routing");
        }
        assertThat(RowRouting.current()).isEmpty();

        model.setActiveAdapters(List.of("lora"));
        model.merge(List.of("lora"));
        assertThatThrownBy(() -> model.route(Arrays.asList(null, "ia3")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("adapter 'lora' is merged into the base weights, so it would reach every row: unmerge it before routing rows to adapters");
        assertThat(RowRouting.current()).isEmpty();
    }

    private void add(String name, dev.graft.spi.PeftMethod method) {
        TargetRules targets = TargetRules.fromConfig(method.descriptor().siteKinds().contains(SiteKind.LINEAR) ? Map.of("target_modules", "all-linear") : Map.of());
        // the prefix and the long prompt are gated, so a routed batch mixes gated and plain virtual tokens
        Composition composition = GATED.contains(name) ? Composition.GATED : Composition.SUM;
        model.addAdapter(new AdapterSpec(name, Map.of(), targets, composition), method);
    }

    private float[] logits(long[][] ids, int[][] mask) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(ids), batch.create(mask)), false).singletonOrThrow().toFloatArray();
        }
    }

    private float[] routedLogits(List<String> rows) {
        return routedLogits(rows, IDS, MASK);
    }

    private float[] routedLogits(List<String> rows, long[][] ids, int[][] mask) {
        try (NDManager batch = manager.newSubManager()) {
            NDArray output = model.forward(new ParameterStore(batch, false), new NDList(batch.create(ids), batch.create(mask)), rows).singletonOrThrow();
            return output.toFloatArray();
        }
    }

    /** The largest difference over the real positions of one row {@code (sequence, vocabulary)}. */
    private static double maximumDifference(float[] actual, float[] expected, int[] mask, int vocabulary) {
        double largest = 0;
        for (int position = 0; position < mask.length; position++) {
            if (mask[position] == 0) {
                continue;
            }
            for (int token = 0; token < vocabulary; token++) {
                int index = position * vocabulary + token;
                largest = Math.max(largest, Math.abs(actual[index] - expected[index]));
            }
        }
        return largest;
    }
}
