package dev.graft.runtime.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Average;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Parallel;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.runtime.compose.Stack;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodModule;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.PromptModule;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SublayerModule;
import dev.graft.spi.SublayerSite;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * AdapterHub's composition blocks over adapters of any methods on the tiny Llama: an average equals the
 * hand-weighted sum of each adapter's effect at a site for every contribution kind, a stack equals the manual
 * two-step computation, a parallel block gives each adapter's output on its own copy of the batch; nonsense is
 * refused before any tensor is made.
 */
final class TestCompositionBlocks {
    private static final double TOLERANCE = 1e-5;
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};

    private final LlamaConfig config = LlamaConfig.tiny();
    private NDManager manager;
    private PeftModel model;

    @BeforeEach
    void createModel() {
        manager = NDManager.newBaseManager();
        model = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager, null));
        add("lora", RoutedMethods.method("t-low-rank", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 1)));
        add("lora-b", RoutedMethods.method("t-low-rank-b", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 11)));
        add("ia3", RoutedMethods.method("t-scale", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.scale(site, ScalingLinearModule.Side.OUTPUT, 2)));
        add("ia3-b", RoutedMethods.method("t-scale-b", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.scale(site, ScalingLinearModule.Side.OUTPUT, 12)));
        add("ia3-in", RoutedMethods.method("t-input-scale", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.scale(site, ScalingLinearModule.Side.INPUT, 3)));
        add("ia3-in-b", RoutedMethods.method("t-input-scale-b", SiteKind.LINEAR, MethodModule.class,
                site -> RoutedMethods.scale(site, ScalingLinearModule.Side.INPUT, 13)));
        add("bat", RoutedMethods.method("t-weight", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.weightDelta(site, 4)));
        add("bat-b", RoutedMethods.method("t-weight-b", SiteKind.LINEAR, MethodModule.class, site -> RoutedMethods.weightDelta(site, 14)));
        add("bottleneck", RoutedMethods.method("t-sublayer", SiteKind.SUBLAYER, SublayerModule.class, site -> new FixedModules.Sublayer(site, 0.3f, -0.2f)));
        add("bottleneck-b", RoutedMethods.method("t-sublayer-b", SiteKind.SUBLAYER, SublayerModule.class, site -> new FixedModules.Sublayer(site, -0.25f, 0.4f)));
        add("prefix", RoutedMethods.method("t-prefix", SiteKind.ATTENTION, PrefixModule.class,
                site -> new FixedModules.Prefix(site, FixedModules.random(config.numKeyValueHeads(), 3, config.headDim(), 10 + site.layerIndex()),
                        FixedModules.random(config.numKeyValueHeads(), 3, config.headDim(), 20 + site.layerIndex()))));
        add("prompt", RoutedMethods.method("t-prompt", SiteKind.EMBEDDING, PromptModule.class,
                site -> new FixedModules.Prompt(site, FixedModules.random(1, 2, config.hiddenSize(), 30)[0])));
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testAverageAtALinearSiteEqualsTheHandWeightedSumOfEachAdaptersEffectForEveryKind() {
        LinearSite site = firstSite(LinearSite.class);
        // a gated adapter keeps its gate under the average: wᵢ multiplies the gated term
        model.addAdapter(new AdapterSpec("gated", Map.of(), TargetRules.fromConfig(Map.of("target_modules", "all-linear")), Composition.GATED),
                RoutedMethods.method("t-low-rank-gated", SiteKind.LINEAR, MergeableLinearModule.class, linear -> RoutedMethods.lowRank(linear, 21)));
        for (List<String> pair : List.of(List.of("lora", "lora-b"), List.of("ia3", "ia3-b"), List.of("ia3-in", "ia3-in-b"), List.of("bat", "bat-b"),
                List.of("lora", "gated"))) {
            for (List<Double> weights : List.of(List.of(0.3, 0.9), List.of(0.5, 0.5), List.of(-0.4, 1.7))) {
                float[] expected = handWeighted(pair, weights, () -> linearOutput(site));
                model.setActiveBlock(Average.of(pair, weights));
                float[] averaged = linearOutput(site);
                assertThat(maximumDifference(averaged, expected)).as("%s with weights %s", pair, weights).isLessThan(TOLERANCE);
                assertThat(maximumDifference(averaged, linearOutputOf(List.of(pair.get(0))))).as("%s changes the output", pair).isGreaterThan(1e-3);
            }
        }
    }

    @Test
    void testAverageAtASublayerSiteEqualsTheHandWeightedSumAndDefaultsToEqualWeights() {
        SublayerSite site = firstSite(SublayerSite.class);
        List<String> pair = List.of("bottleneck", "bottleneck-b");
        float[] expected = handWeighted(pair, List.of(0.25, 0.75), () -> sublayerOutput(site));
        model.setActiveBlock(Average.of(pair, List.of(0.25, 0.75)));
        assertThat(maximumDifference(sublayerOutput(site), expected)).isLessThan(TOLERANCE);

        float[] equal = handWeighted(pair, List.of(0.5, 0.5), () -> sublayerOutput(site));
        model.setActiveBlock(Average.of(pair));
        assertThat(((Average) model.activeBlock().orElseThrow()).weights()).containsExactly(0.5, 0.5);
        assertThat(maximumDifference(sublayerOutput(site), equal)).isLessThan(TOLERANCE);
    }

    @Test
    void testAverageOfOneAdapterWithWeightOneIsThatAdapterAndClearingTheBlockRestoresTheSum() {
        model.setActiveAdapters(List.of("lora"));
        float[] alone = logits(IDS, MASK);
        model.setActiveBlock(Average.of(List.of("lora"), List.of(1.0)));
        assertThat(maximumDifference(logits(IDS, MASK), alone)).isLessThan(TOLERANCE);

        model.setActiveAdapters(List.of("lora", "ia3", "bottleneck"));
        float[] sum = logits(IDS, MASK);
        model.setActiveBlock(Average.of(List.of("lora", "ia3", "bottleneck")));
        assertThat(model.activeAdapters()).containsExactly("lora", "ia3", "bottleneck");
        assertThat(maximumDifference(logits(IDS, MASK), sum)).isGreaterThan(1e-3);
        model.setActiveBlock(null);
        assertThat(model.activeBlock()).isEmpty();
        assertThat(model.activeAdapters()).containsExactly("lora", "ia3", "bottleneck");
        assertThat(logits(IDS, MASK)).containsExactly(sum);
    }

    @Test
    void testStackFeedsTheFirstAdaptersOutputToTheSecondAsTheManualTwoStepComputation() {
        SublayerSite site = firstSite(SublayerSite.class);
        float[][] expected = new float[2][];
        float[] sum;
        try (NDManager scope = manager.newSubManager()) {
            ParameterStore store = new ParameterStore(scope, false);
            NDArray input = sublayerInput(scope);
            NDArray output = sublayerOutputArray(scope);
            model.setActiveAdapters(List.of("bottleneck", "bottleneck-b"));
            sum = SiteOps.sublayer(store, model.base().attachments(site), input, output, false).toFloatArray();
            for (List<String> order : List.of(List.of("bottleneck", "bottleneck-b"), List.of("bottleneck-b", "bottleneck"))) {
                NDArray h = output;
                for (String name : order) {
                    SublayerModule module = (SublayerModule) model.adapter(name).attachments().get(site).module();
                    h = h.add(module.delta(store, input, h, false).mul(module.scaling()));
                }
                expected[order.get(0).equals("bottleneck") ? 0 : 1] = h.toFloatArray();
            }
        }
        model.setActiveBlock(Stack.of(List.of("bottleneck", "bottleneck-b")));
        float[] stacked = sublayerOutput(site);
        assertThat(maximumDifference(stacked, expected[0])).isLessThan(TOLERANCE);
        assertThat(maximumDifference(stacked, sum)).as("a stack is not the sum").isGreaterThan(1e-3);
        model.setActiveBlock(Stack.of(List.of("bottleneck-b", "bottleneck")));
        assertThat(maximumDifference(sublayerOutput(site), expected[1])).isLessThan(TOLERANCE);
    }

    @Test
    void testParallelGivesEachAdapterItsOwnCopyOfTheBatch() {
        List<String> names = List.of("lora", "bat", "bottleneck", "prefix", "prompt");
        float[][] alone = new float[names.size()][];
        for (int index = 0; index < names.size(); index++) {
            model.setActiveAdapters(List.of(names.get(index)));
            alone[index] = logits(IDS, MASK);
        }
        model.setActiveBlock(Parallel.of(names));
        float[] parallel;
        long[] shape;
        try (NDManager batch = manager.newSubManager()) {
            NDArray output = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), false).singletonOrThrow();
            shape = output.getShape().getShape();
            parallel = output.toFloatArray();
        }
        assertThat(shape).containsExactly(names.size() * IDS.length, IDS[0].length, config.vocabularySize());
        int perBatch = alone[0].length;
        int vocabulary = config.vocabularySize();
        for (int index = 0; index < names.size(); index++) {
            float[] copy = Arrays.copyOfRange(parallel, index * perBatch, (index + 1) * perBatch);
            for (int row = 0; row < IDS.length; row++) {
                int perRow = IDS[0].length * vocabulary;
                assertThat(maskedDifference(Arrays.copyOfRange(copy, row * perRow, (row + 1) * perRow),
                        Arrays.copyOfRange(alone[index], row * perRow, (row + 1) * perRow), MASK[row], vocabulary))
                        .as("%s, row %d", names.get(index), row).isLessThan(TOLERANCE);
            }
        }
        assertThat(RowRouting.current()).isEmpty();
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(IDS), batch.create(MASK));
            assertThatThrownBy(() -> model.forward(new ParameterStore(batch, true), inputs, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("a parallel block [lora, bat, bottleneck, prefix, prompt] is for inference only: train each adapter on its own, without the block");
        }
    }

    @Test
    void testNonsenseIsRefusedBeforeAnyTensorWithTheReason() {
        assertThatThrownBy(() -> Average.of(List.of("lora", "lora")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a average block names adapter 'lora' twice ([lora, lora]): each adapter takes part once");
        assertThatThrownBy(() -> Stack.of(List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a stack block needs at least one adapter name; none given");
        assertThatThrownBy(() -> Average.of(List.of("lora", "ia3"), List.of(1.0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("an average block needs one weight per adapter: 2 adapters [lora, ia3], 1 weights [1.0]");
        assertThatThrownBy(() -> Average.of(List.of("lora"), List.of(Double.NaN)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the weight of adapter 'lora' in an average block must be a finite number, found NaN");

        model.setActiveAdapters(List.of("ia3"));
        assertRefused(Average.of(List.of("lora", "nope")), IllegalArgumentException.class,
                "the average block names adapter 'nope', which this model does not have; adapters: "
                        + "[lora, lora-b, ia3, ia3-b, ia3-in, ia3-in-b, bat, bat-b, bottleneck, bottleneck-b, prefix, prompt]");
        assertRefused(Stack.of(List.of("bottleneck", "bat")), IllegalArgumentException.class,
                "a stack block stacks adapters at sublayer sites only; adapter 'bat' (method t-weight) has a module at LINEAR site "
                        + firstSite(LinearSite.class).name() + ": at a linear site each module reads the layer's input, not another adapter's output, "
                        + "and two stacked weight transforms on one weight would not commute");
        assertRefused(Stack.of(List.of("bottleneck", "prefix")), IllegalArgumentException.class,
                "only a sublayer's output can feed the next adapter");
        assertRefused(Average.of(List.of("lora", "prompt")), IllegalArgumentException.class,
                "adapter 'prompt' (method t-prompt) adds virtual tokens at EMBEDDING site");

        model.setActiveAdapters(List.of("lora"));
        model.merge(List.of("lora"));
        assertRefused(Parallel.of(List.of("ia3", "lora")), IllegalStateException.class,
                "adapter 'lora' is merged into the base weights, so a parallel block cannot combine it at run time: unmerge it first");
        model.unmerge(List.of("lora"));

        model.setActiveBlock(Average.of(List.of("lora", "ia3")));
        assertThatThrownBy(() -> model.merge(List.of("lora")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("a average block [lora, ia3] is active: it combines adapters at run time, and merging folds each adapter into the weights alone. "
                        + "Deployments that must merge use sum composition: clear the block (setActiveBlock(null)) and merge the adapters attached with composition 'sum'");
        assertThat(model.adapter("lora").isMerged()).isFalse();
        assertThatThrownBy(() -> model.route(Arrays.asList("lora", null)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("a average block [lora, ia3] is active; per-row routing gives each row one adapter alone: clear the block (setActiveBlock(null)) first");
        assertThat(RowRouting.current()).isEmpty();
        // activating adapters directly leaves the block
        model.setActive("bat", true);
        assertThat(model.activeBlock()).isEmpty();
    }

    @Test
    void testAddingAnAdapterOrDeletingOneOfTheBlocksLeavesTheBlock() {
        model.setActiveBlock(Stack.of(List.of("bottleneck", "bottleneck-b")));
        model.deleteAdapter("lora");
        assertThat(model.activeBlock()).isPresent();
        model.deleteAdapter("bottleneck-b");
        assertThat(model.activeBlock()).isEmpty();
        assertThat(model.activeAdapters()).containsExactly("bottleneck");

        model.setActiveBlock(Average.of(List.of("ia3", "bat"), List.of(0.2, 0.6)));
        add("late", RoutedMethods.method("t-low-rank-late", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 31)));
        assertThat(model.activeBlock()).isEmpty();
        assertThat(model.adapter("ia3").attachments().values()).allSatisfy(attachment -> {
            assertThat(attachment.isAveraged()).isFalse();
            assertThat(attachment.blockWeight()).isEqualTo(1f);
        });
        assertThat(model.activeAdapters()).containsExactly("ia3", "bat", "late");
    }

    @Test
    void testAGatedAdapterCannotMergeAndTheMessagePointsToSumComposition() {
        model.addAdapter(new AdapterSpec("gated", Map.of(), TargetRules.fromConfig(Map.of("target_modules", "all-linear")), Composition.GATED),
                RoutedMethods.method("t-low-rank-gated", SiteKind.LINEAR, MergeableLinearModule.class, site -> RoutedMethods.lowRank(site, 21)));
        assertThatThrownBy(() -> model.merge(List.of("gated")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("adapter 'gated' is gated: its gate scales each example differently, so it cannot be merged; "
                        + "run it unmerged, or, for a deployment that must merge, attach it with composition 'sum'");
    }

    /** Asserts that {@code block} is refused with {@code message} (or a message containing it) and that the model is unchanged. */
    private void assertRefused(CompositionBlock block, Class<? extends Exception> type, String message) {
        List<String> activeBefore = model.activeAdapters();
        assertThatThrownBy(() -> model.setActiveBlock(block)).isInstanceOf(type).hasMessageContaining(message);
        assertThat(model.activeAdapters()).isEqualTo(activeBefore);
        assertThat(model.activeBlock()).isEmpty();
    }

    /** {@code y₀ + Σ wᵢ(yᵢ − y₀)}: the base output plus each adapter's effect alone, weighted. */
    private float[] handWeighted(List<String> names, List<Double> weights, java.util.function.Supplier<float[]> output) {
        model.setActiveAdapters(List.of());
        float[] base = output.get();
        float[] expected = base.clone();
        for (int index = 0; index < names.size(); index++) {
            model.setActiveAdapters(List.of(names.get(index)));
            float[] alone = output.get();
            for (int element = 0; element < expected.length; element++) {
                expected[element] += (float) (weights.get(index) * (alone[element] - base[element]));
            }
        }
        return expected;
    }

    private void add(String name, PeftMethod method) {
        TargetRules targets = TargetRules.fromConfig(method.descriptor().siteKinds().contains(SiteKind.LINEAR) ? Map.of("target_modules", "all-linear") : Map.of());
        model.addAdapter(new AdapterSpec(name, Map.of(), targets, Composition.SUM), method);
    }

    private <T extends Site> T firstSite(Class<T> type) {
        return model.base().sites().stream().filter(type::isInstance).map(type::cast).findFirst().orElseThrow();
    }

    private float[] linearOutputOf(List<String> names) {
        model.setActiveAdapters(names);
        return linearOutput(firstSite(LinearSite.class));
    }

    private float[] linearOutput(LinearSite site) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = random(scope, new Shape(2, 3, site.inFeatures()), 7);
            return model.linearSite(site).forward(new ParameterStore(scope, false), x, false).toFloatArray();
        }
    }

    private float[] sublayerOutput(SublayerSite site) {
        try (NDManager scope = manager.newSubManager()) {
            return SiteOps.sublayer(new ParameterStore(scope, false), model.base().attachments(site), sublayerInput(scope), sublayerOutputArray(scope), false)
                    .toFloatArray();
        }
    }

    private NDArray sublayerInput(NDManager scope) {
        return random(scope, new Shape(2, 3, config.hiddenSize()), 8);
    }

    private NDArray sublayerOutputArray(NDManager scope) {
        return random(scope, new Shape(2, 3, config.hiddenSize()), 9);
    }

    private static NDArray random(NDManager scope, Shape shape, long seed) {
        Random random = new Random(seed);
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int index = 0; index < values.length; index++) {
            values[index] = (float) random.nextGaussian();
        }
        return scope.create(values, shape);
    }

    private float[] logits(long[][] ids, int[][] mask) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(ids), batch.create(mask)), false).singletonOrThrow().toFloatArray();
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

    /** The largest difference over the real positions of one row {@code (sequence, vocabulary)}. */
    private static double maskedDifference(float[] actual, float[] expected, int[] mask, int vocabulary) {
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
