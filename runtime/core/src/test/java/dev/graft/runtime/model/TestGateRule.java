package dev.graft.runtime.model;

import static dev.graft.runtime.model.ModelAssertions.assertClose;
import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.Gate;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;
import dev.graft.spi.SublayerModule;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gate rule at the sites outside linear layers (the linear kinds are in {@code TestComposition}), on the tiny
 * Llama and the tiny BERT with fixed modules: a sublayer delta is scaled by {@code g}; a prefix's keys and a prompt's
 * positions are attended with their weight scaled by {@code g}. Gates forced open ({@code b_g = 10⁴}, {@code g = 1})
 * give the plain sum; forced shut ({@code g = 0}) give the base model (on BERT, whose positions are absolute, the base
 * model read at positions moved past the virtual tokens, as PEFT places them). Gates get gradients.
 */
final class TestGateRule {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();
    private static final int VIRTUAL = 3;
    private static final float OPEN = 1e4f;
    private static final float SHUT = -1e4f;

    private NDManager manager;

    @BeforeEach
    void open() {
        Engine.getInstance().setRandomSeed(13);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** The kind of module attached, with its values; {@code zero} gives the same positions with all values 0. */
    private enum Kind {
        SUBLAYER(SiteKind.SUBLAYER), PREFIX(SiteKind.ATTENTION), PROMPT(SiteKind.EMBEDDING);

        private final SiteKind siteKind;

        Kind(SiteKind siteKind) {
            this.siteKind = siteKind;
        }

        MethodModule module(Site site, int heads, int headDim, int hidden) {
            return switch (this) {
                case SUBLAYER -> new FixedModules.Sublayer(site, 0.3f, -0.2f);
                case PREFIX -> new FixedModules.Prefix(site, FixedModules.random(heads, VIRTUAL, headDim, 31 + site.layerIndex()),
                        FixedModules.random(heads, VIRTUAL, headDim, 41 + site.layerIndex()));
                case PROMPT -> new FixedModules.Prompt(site, FixedModules.random(1, VIRTUAL, hidden, 51)[0]);
            };
        }

        static double[][][] prefixKeys(Site site) {
            return FixedModules.random(CONFIG.numKeyValueHeads(), VIRTUAL, CONFIG.headDim(), 31 + site.layerIndex());
        }

        static double[][][] prefixValues(Site site) {
            return FixedModules.random(CONFIG.numKeyValueHeads(), VIRTUAL, CONFIG.headDim(), 41 + site.layerIndex());
        }
    }

    @Test
    void testASublayerDeltaIsScaledByItsGate() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.SUBLAYER, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the sublayer deltas change the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.SUBLAYER, SHUT), false), base, 1e-5, "sublayer deltas with gates forced to 0 against the base model");
        assertClose(logits(attach(model(), Kind.SUBLAYER, OPEN), false), summed, 1e-5, "sublayer deltas with gates forced to 1 against the plain sum");
    }

    @Test
    void testAPrefixIsAttendedWithItsGatesWeight() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.PREFIX, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the prefix changes the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.PREFIX, OPEN), false), summed, 1e-5, "a prefix with gates forced to 1 against the plain prefix");
        assertThat(maximumDifference(logits(attach(model(), Kind.PREFIX, SHUT), false), base, MASK)).as("a prefix with gates forced to 0 against the base model, real tokens").isLessThan(1e-5);
    }

    @Test
    void testAHalfOpenGateHalvesThePrefixKeysAttentionWeight() {
        // each virtual key written twice takes twice the weight; a gate of exactly 1/2 (W_g = 0, b_g = 0) halves it back.
        // Queries are rotated at their absolute positions and prefix keys are not, so the doubled prefix's real tokens
        // are given the positions the plain prefix's get (each moved past the virtual tokens: 3 + i for both).
        LlamaForCausalLM doubled = model();
        for (Site site : doubled.sites()) {
            if (site.kind() == SiteKind.ATTENTION) {
                Gate half = new Gate(CONFIG.hiddenSize());
                half.initialize(doubled.manager(), DataType.FLOAT32, new Shape(1, 1, CONFIG.hiddenSize()));
                half.getParameters().get("weight").getArray().set(new float[CONFIG.hiddenSize()]);
                half.getParameters().get("bias").getArray().set(new float[] {0f});
                doubled.attachments(site).add(new Attachment("fixed", "doubled",
                        new FixedModules.Prefix(site, twice(Kind.prefixKeys(site)), twice(Kind.prefixValues(site))), half));
            }
        }
        LlamaForCausalLM plain = attach(model(), Kind.PREFIX, null);
        long[][] positions = new long[IDS.length][IDS[0].length];
        long[][] earlier = new long[IDS.length][IDS[0].length];
        for (int row = 0; row < IDS.length; row++) {
            for (int column = 0; column < IDS[0].length; column++) {
                positions[row][column] = column;
                earlier[row][column] = column - VIRTUAL;
            }
        }
        try (NDManager batch = manager.newSubManager()) {
            float[] halved = doubled.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK), batch.create(earlier)), false)
                    .singletonOrThrow().toFloatArray();
            float[] expected = plain.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK), batch.create(positions)), false)
                    .singletonOrThrow().toFloatArray();
            assertClose(halved, expected, 1e-5, "a doubled prefix at gate 1/2 against the plain prefix");
        }
    }

    @Test
    void testAPromptIsAttendedWithItsGatesWeight() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.PROMPT, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the prompt changes the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.PROMPT, OPEN), false), summed, 1e-5, "a prompt with gates forced to 1 against the plain prompt");
        assertThat(maximumDifference(logits(attach(model(), Kind.PROMPT, SHUT), false), base, MASK)).as("a prompt with gates forced to 0 against the base model, real tokens").isLessThan(1e-5);
    }

    @Test
    void testOnBertAShutPrefixOrPromptIsTheBaseModelAtShiftedPositions() {
        BertConfig config = BertConfig.tiny();
        long[][] ids = {{2, 17, 9, 3, 42, 7}, {2, 5, 64, 12, 0, 0}};
        int[][] mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
        long[][] shifted = new long[2][6];
        for (int row = 0; row < 2; row++) {
            for (int column = 0; column < 6; column++) {
                shifted[row][column] = column + VIRTUAL;
            }
        }
        try (NDManager batch = manager.newSubManager()) {
            NDArray base = bert(config, null, null).forward(new ParameterStore(batch, false),
                    new NDList(batch.create(ids), batch.create(mask), batch.zeros(new Shape(2, 6), DataType.INT64), batch.create(shifted)), false).get(0);
            for (Kind kind : List.of(Kind.PREFIX, Kind.PROMPT)) {
                NDList inputs = new NDList(batch.create(ids), batch.create(mask));
                BertModel plain = bert(config, kind, null);
                float[] summed = plain.forward(new ParameterStore(batch, false), inputs, false).get(0).toFloatArray();
                float[] shut = bert(config, kind, SHUT).forward(new ParameterStore(batch, false), inputs, false).get(0).toFloatArray();
                float[] open = bert(config, kind, OPEN).forward(new ParameterStore(batch, false), inputs, false).get(0).toFloatArray();
                assertThat(maximumDifference(summed, base.toFloatArray(), mask)).as("the %s changes the hidden states", kind).isGreaterThan(0.01);
                assertClose(open, summed, 1e-5, String.format("a BERT %s with gates forced to 1 against the plain one", kind));
                assertThat(maximumDifference(shut, base.toFloatArray(), mask))
                        .as("a BERT %s with gates forced to 0 against the base model at positions moved by %d", kind, VIRTUAL).isLessThan(1e-5);
            }
        }
    }

    @Test
    void testPaddingDoesNotMoveAGate() {
        // gates average over the real tokens only: a row left-padded in a batch gives what it gives alone
        LlamaForCausalLM model = attach(model(), Kind.SUBLAYER, 0f);
        for (Gate gate : gates(model)) {
            float[] weight = new float[CONFIG.hiddenSize()];
            for (int index = 0; index < weight.length; index++) {
                weight[index] = (float) Math.sin(index + 1.0);
            }
            gate.getParameters().get("weight").getArray().set(weight);
        }
        long[][] padded = {{0, 0, 64, 12, 127, 1}};
        int[][] paddedMask = {{0, 0, 1, 1, 1, 1}};
        long[][] alone = {{64, 12, 127, 1}};
        try (NDManager batch = manager.newSubManager()) {
            float[] inBatch = model.forward(new ParameterStore(batch, false), new NDList(batch.create(padded), batch.create(paddedMask)), false)
                    .singletonOrThrow().toFloatArray();
            float[] byItself = model.forward(new ParameterStore(batch, false), new NDList(batch.create(alone), batch.create(new int[][] {{1, 1, 1, 1}})), false)
                    .singletonOrThrow().toFloatArray();
            int vocabulary = CONFIG.vocabularySize();
            float[] realTokens = java.util.Arrays.copyOfRange(inBatch, 2 * vocabulary, inBatch.length);
            assertClose(realTokens, byItself, 1e-5, "a gated row with two padding tokens against the row alone");
        }
    }

    @Test
    void testGatesOfEveryKindReceiveGradients() {
        for (Kind kind : Kind.values()) {
            LlamaForCausalLM model = attach(model(), kind, 0f);
            List<Gate> gates = gates(model);
            assertThat(gates).as("gates of %s", kind).isNotEmpty();
            for (Gate gate : gates) {
                gate.getParameters().forEach(pair -> pair.getValue().getArray().setRequiresGradient(true));
            }
            try (NDManager batch = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), true).singletonOrThrow();
                collector.backward(logits.square().sum());
                for (Gate gate : gates) {
                    float[] weightGradient = gate.getParameters().get("weight").getArray().getGradient().toFloatArray();
                    float[] biasGradient = gate.getParameters().get("bias").getArray().getGradient().toFloatArray();
                    assertThat(maximumAbsolute(weightGradient)).as("|∂L/∂W_g| of a %s gate", kind).isGreaterThan(1e-6);
                    assertThat((double) Math.abs(biasGradient[0])).as("|∂L/∂b_g| of a %s gate", kind).isGreaterThan(1e-6);
                }
            }
        }
    }

    @Test
    void testAPlainForwardRecordsNoGateValue() {
        PeftModel peft = new PeftModel(model());
        peft.addAdapter(new AdapterSpec("gated", Map.of(), TargetRules.fromConfig(Map.of()), Composition.GATED), new FixedSublayerMethod());
        List<Gate> gates = gates(peft.base());
        assertThat(gates).hasSize(2 * CONFIG.numLayers());

        forward(peft);
        assertThat(gates).as("gates after a forward pass nobody records").allSatisfy(gate -> {
            assertThat(gate.isRecording()).isFalse();
            assertThat(gate.lastValues()).isEmpty();
        });
        assertThatThrownBy(peft::gateReadings).isInstanceOf(IllegalStateException.class).hasMessageContaining("setGateRecording(true)");

        peft.setGateRecording(true);
        forward(peft);
        assertThat(peft.gateReadings()).hasSize(2 * CONFIG.numLayers())
                .allSatisfy(reading -> {
                    assertThat(reading.values()).hasSize(2);
                    assertThat(reading.mean()).isStrictlyBetween(0.0, 1.0);
                });

        peft.setGateRecording(false);
        assertThat(gates).as("gates after recording is turned off").allSatisfy(gate -> assertThat(gate.lastValues()).isEmpty());
        forward(peft);
        assertThat(gates).as("gates after a forward pass once recording is off").allSatisfy(gate -> assertThat(gate.lastValues()).isEmpty());
    }

    private void forward(PeftModel peft) {
        try (NDManager batch = manager.newSubManager()) {
            peft.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), false);
        }
    }

    private LlamaForCausalLM model() {
        NDManager modelManager = manager.newSubManager();
        return LlamaForCausalLM.create(CONFIG, LlamaWeights.random(CONFIG, modelManager, 21), modelManager, null);
    }

    /** Attaches {@code kind} at each of its sites, gated with every bias at {@code logit}, or ungated when it is null. */
    private LlamaForCausalLM attach(LlamaForCausalLM model, Kind kind, Float logit) {
        attach(model, kind, logit, CONFIG.hiddenSize(), CONFIG.numKeyValueHeads(), CONFIG.headDim());
        return model;
    }

    private static void attach(TransformerModel model, Kind kind, Float logit, int hidden, int heads, int headDim) {
        for (Site site : model.sites()) {
            if (site.kind() == kind.siteKind) {
                Gate gate = null;
                if (logit != null) {
                    gate = new Gate(hidden);
                    gate.initialize(model.manager(), DataType.FLOAT32, new Shape(1, 1, hidden));
                    gate.getParameters().get("bias").getArray().set(new float[] {logit});
                }
                model.attachments(site).add(new Attachment("fixed", "fixed-" + kind, kind.module(site, heads, headDim, hidden), gate));
            }
        }
    }

    /** The tiny BERT with {@code kind} attached (gated at {@code logit}, or ungated when null), or the bare model when {@code kind} is null. */
    private BertModel bert(BertConfig config, Kind kind, Float logit) {
        NDManager modelManager = manager.newSubManager();
        BertModel model = BertModel.create(config, BertWeights.random(config, modelManager, 42), modelManager, null);
        if (kind != null) {
            attach(model, kind, logit, config.hiddenSize(), config.numAttentionHeads(), config.headDim());
        }
        return model;
    }

    private static double[][][] twice(double[][][] values) {
        double[][][] doubled = new double[values.length][][];
        for (int head = 0; head < values.length; head++) {
            doubled[head] = new double[2 * values[head].length][];
            for (int token = 0; token < values[head].length; token++) {
                doubled[head][token] = values[head][token];
                doubled[head][values[head].length + token] = values[head][token];
            }
        }
        return doubled;
    }

    private static List<Gate> gates(TransformerModel model) {
        List<Gate> gates = new ArrayList<>();
        for (Site site : model.sites()) {
            for (Attachment attachment : model.attachments(site).all()) {
                attachment.gate().ifPresent(gates::add);
            }
        }
        return gates;
    }

    private float[] logits(LlamaForCausalLM model, boolean training) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), training).singletonOrThrow().toFloatArray();
        }
    }

    private static double maximumAbsolute(float[] values) {
        double maximum = 0;
        for (float value : values) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        return maximum;
    }

    /** A sublayer method whose modules are {@link FixedModules.Sublayer}, without parameters. */
    private static final class FixedSublayerMethod implements PeftMethod {
        @Override
        public MethodDescriptor descriptor() {
            return new MethodDescriptor("fixed-sublayer", "1.0.0", SpiVersion.CURRENT, "FIXED_SUBLAYER", Set.of(SiteKind.SUBLAYER), SublayerModule.class, OptionSchema.of(),
                    Map.of(), "a fixed sublayer delta, for testing");
        }

        @Override
        public MethodInstance create(MethodOptions options, ModelContext model) {
            return new MethodInstance() {
                @Override
                public MethodModule attach(Site site) {
                    return new FixedModules.Sublayer(site, 0.3f, -0.2f);
                }

                @Override
                public long trainableParameterCount(List<Site> sites) {
                    return 0;
                }
            };
        }
    }
}
