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
 * Llama with fixed modules: a sublayer delta is scaled by {@code g}; prefix keys and values and prompt positions are
 * scaled by {@code g}, as AdapterHub's UniPELT does. Gates forced open ({@code b_g = 10⁴}, {@code g = 1}) give the
 * plain sum; forced shut ({@code g = 0}) give the base model for a sublayer delta, and for a prefix or a prompt the
 * model with that prefix's keys and values, or that prompt's tokens, all zero: the virtual positions stay, so a shut
 * prefix still takes attention weight ({@code exp(0)} per virtual key) and is not the base. Gates get gradients.
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

        MethodModule module(Site site, boolean zero) {
            double factor = zero ? 0 : 1;
            return switch (this) {
                case SUBLAYER -> new FixedModules.Sublayer(site, 0.3f, -0.2f);
                case PREFIX -> new FixedModules.Prefix(site, scaled(FixedModules.random(CONFIG.numKeyValueHeads(), VIRTUAL, CONFIG.headDim(), 31 + site.layerIndex()), factor),
                        scaled(FixedModules.random(CONFIG.numKeyValueHeads(), VIRTUAL, CONFIG.headDim(), 41 + site.layerIndex()), factor));
                case PROMPT -> new FixedModules.Prompt(site, scaled(FixedModules.random(1, VIRTUAL, CONFIG.hiddenSize(), 51), factor)[0]);
            };
        }
    }

    @Test
    void testASublayerDeltaIsScaledByItsGate() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.SUBLAYER, false, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the sublayer deltas change the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.SUBLAYER, false, SHUT), false), base, 1e-5, "sublayer deltas with gates forced to 0 against the base model");
        assertClose(logits(attach(model(), Kind.SUBLAYER, false, OPEN), false), summed, 1e-5, "sublayer deltas with gates forced to 1 against the plain sum");
    }

    @Test
    void testPrefixKeysAndValuesAreScaledByTheirGate() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.PREFIX, false, null), false);
        float[] zeroPrefix = logits(attach(model(), Kind.PREFIX, true, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the prefix changes the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.PREFIX, false, OPEN), false), summed, 1e-5, "a prefix with gates forced to 1 against the plain prefix");
        float[] shut = logits(attach(model(), Kind.PREFIX, false, SHUT), false);
        assertClose(shut, zeroPrefix, 1e-5, "a prefix with gates forced to 0 against a prefix whose keys and values are 0");
        assertThat(maximumDifference(shut, base, MASK)).as("a shut prefix's zero keys still take attention weight: not the base model").isGreaterThan(1e-3);
    }

    @Test
    void testPromptPositionsAreScaledByTheirGate() {
        float[] base = logits(model(), false);
        float[] summed = logits(attach(model(), Kind.PROMPT, false, null), false);
        float[] zeroPrompt = logits(attach(model(), Kind.PROMPT, true, null), false);
        assertThat(maximumDifference(summed, base, MASK)).as("the prompt changes the logits").isGreaterThan(0.1);

        assertClose(logits(attach(model(), Kind.PROMPT, false, OPEN), false), summed, 1e-5, "a prompt with gates forced to 1 against the plain prompt");
        assertClose(logits(attach(model(), Kind.PROMPT, false, SHUT), false), zeroPrompt, 1e-5, "a prompt with gates forced to 0 against a prompt of zero tokens");
    }

    @Test
    void testGatesOfEveryKindReceiveGradients() {
        for (Kind kind : Kind.values()) {
            LlamaForCausalLM model = attach(model(), kind, false, 0f);
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
    private LlamaForCausalLM attach(LlamaForCausalLM model, Kind kind, boolean zero, Float logit) {
        for (Site site : model.sites()) {
            if (site.kind() == kind.siteKind) {
                Gate gate = null;
                if (logit != null) {
                    gate = new Gate(CONFIG.hiddenSize());
                    gate.initialize(model.manager(), DataType.FLOAT32, new Shape(1, 1, CONFIG.hiddenSize()));
                    gate.getParameters().get("bias").getArray().set(new float[] {logit});
                }
                model.attachments(site).add(new Attachment("fixed", "fixed-" + kind, kind.module(site, zero), gate));
            }
        }
        return model;
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

    private static double[][][] scaled(double[][][] values, double factor) {
        for (double[][] plane : values) {
            for (double[] row : plane) {
                for (int index = 0; index < row.length; index++) {
                    row[index] *= factor;
                }
            }
        }
        return values;
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
