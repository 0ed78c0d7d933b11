package dev.graft.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.graft.runtime.compose.Adapter;
import dev.graft.runtime.compose.AdapterSpec;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.store.AdapterState;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The conformance kit for a PEFT method plugin. Extend it in a few lines:
 * <pre>{@code
 * final class TestMyMethodConformance extends MethodConformanceTest {
 *     protected PeftMethod method() { return new MyMethod(); }
 *     protected Map<String, Object> options() { return Map.of("r", 4); }
 * }
 * }</pre>
 * Every test runs the method on the runtime's real Llama-family model (2 layers, hidden 64, intermediate 128,
 * 4 heads, 2 key/value heads, vocabulary 128; grouped-query attention, left padding) and checks the promises of
 * DESIGN.md: identity at default init, merge/unmerge equivalence within 1e-4, only adapter parameters change when
 * training (base bit-identical), gradients reach every trainable tensor, save/load gives identical outputs with
 * only adapter tensors saved, the trainable count equals the method's formula, bad options are rejected with a
 * clear message, gated composition works, and forward leaks nothing into the model's memory.
 */
public abstract class MethodConformanceTest {
    /** The logits tolerance of merge equivalence, as Hugging Face PEFT's tests. */
    protected static final double MERGE_TOLERANCE = 1e-4;

    private static final long[][] TOKEN_IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] ATTENTION_MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};

    private NDManager manager;

    /** The method under test, freshly constructed. */
    protected abstract PeftMethod method();

    /** Options for the adapter under test (PEFT field names); the defaults by default. */
    protected Map<String, Object> options() {
        return Map.of();
    }

    /** PEFT {@code target_modules} for linear-site methods. */
    protected List<String> targetModules() {
        return List.of("q_proj", "v_proj");
    }

    /** Whether the method's paper says a freshly attached adapter leaves the output unchanged. */
    protected boolean identityAtInit() {
        return true;
    }

    /** Option sets the method must reject, by a short description. Each must throw {@link InvalidOptionsException}. */
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of();
    }

    @BeforeEach
    final void openManager() {
        Engine.getInstance().setRandomSeed(1234);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    final void closeManager() {
        manager.close();
    }

    @Test
    void testDescriptorIsComplete() {
        MethodDescriptor descriptor = method().descriptor();
        assertThat(descriptor.id()).matches("[a-z][a-z0-9_-]*");
        assertThat(SpiVersion.isCompatible(descriptor.spiVersion(), SpiVersion.CURRENT))
                .as("built against SPI %s, runtime SPI %s", descriptor.spiVersion(), SpiVersion.CURRENT).isTrue();
        assertThat(descriptor.peftType()).isNotBlank();
        assertThat(descriptor.description()).isNotBlank();
        for (OptionSpec option : descriptor.options().options()) {
            assertThat(option.description()).as("documentation of option %s", option.name()).isNotBlank();
        }
        Map<String, Object> defaults = new HashMap<>();
        for (OptionSpec option : descriptor.options().options()) {
            if (option.required()) {
                defaults.put(option.name(), options().get(option.name()));
            }
        }
        assertThat(descriptor.options().validate(descriptor.id(), defaults).asMap()).isNotNull();
    }

    @Test
    void testFreshAdapterIsIdentity() {
        assumeTrue(identityAtInit(), "the method is not an identity at initialisation");
        PeftModel model = newModel();
        float[] base = logits(model);
        attach(model, "default", Composition.SUM);
        assertClose(logits(model), base, 1e-6, "a freshly attached adapter must leave the logits unchanged");
    }

    @Test
    void testTrainableParameterCountMatchesFormula() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        assertThat(model.trainableParameterCount())
                .as("trainable parameters counted on the model vs the method's formula")
                .isEqualTo(adapter.instance().trainableParameterCount(adapter.sites()))
                .isPositive();
    }

    @Test
    void testMergeAndUnmergeMatchUnmergedOutputs() {
        PeftModel model = newModel();
        Map<String, NDArray> baseWeights = copy(model.base().stateDict());
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] unmerged = logits(model);
        if (!adapter.descriptor().mergeable()) {
            assertThatThrownBy(() -> model.merge(List.of("default"))).isInstanceOf(IllegalStateException.class).hasMessageContaining("default");
            return;
        }
        model.merge(List.of("default"));
        assertClose(logits(model), unmerged, MERGE_TOLERANCE, "merged logits");
        model.unmerge(List.of("default"));
        assertClose(logits(model), unmerged, MERGE_TOLERANCE, "unmerged logits");
        model.base().stateDict().forEach((key, value) -> assertClose(value.toFloatArray(), baseWeights.get(key).toFloatArray(), 1e-5, "base weight " + key + " after unmerge"));
        model.merge(List.of("default"));
        assertClose(logits(model), unmerged, MERGE_TOLERANCE, "logits merged a second time");
        assertThatThrownBy(() -> model.deleteAdapter("default")).isInstanceOf(IllegalStateException.class).hasMessageContaining("unmerge");
    }

    @Test
    void testTrainingChangesOnlyAdapterParameters() {
        PeftModel model = newModel();
        Map<String, byte[]> baseBefore = bytes(model.base().stateDict());
        Adapter adapter = attach(model, "default", Composition.SUM);
        Map<String, float[]> adapterBefore = values(adapter.trainableParameters());
        try (PeftTrainer trainer = PeftTrainer.create(model, ResettableAdamW.builder().optLearningRate(0.01f).build(), Loss.l2Loss())) {
            for (int step = 0; step < 3; step++) {
                try (NDManager batch = manager.newSubManager()) {
                    trainer.step(inputs(batch), new NDList(target(batch)));
                }
            }
        }
        Map<String, byte[]> baseAfter = bytes(model.base().stateDict());
        for (String key : baseBefore.keySet()) {
            assertThat(baseAfter.get(key)).as("base weight %s must be bit-identical after training", key).isEqualTo(baseBefore.get(key));
        }
        Map<String, float[]> adapterAfter = values(adapter.trainableParameters());
        for (String key : adapterBefore.keySet()) {
            assertThat(adapterAfter.get(key)).as("trainable parameter %s must change in 3 steps", key).isNotEqualTo(adapterBefore.get(key));
        }
    }

    @Test
    void testGradientsReachEveryTrainableTensor() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        try (NDManager batch = manager.newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray output = model.forward(new ParameterStore(batch, false), inputs(batch), true).singletonOrThrow();
            collector.backward(output.sub(target(batch)).square().mean());
            for (Parameter parameter : adapter.trainableParameters()) {
                NDArray gradient = parameter.getArray().getGradient();
                assertThat(gradient.abs().sum().getFloat()).as("gradient of %s", parameter.getName()).isPositive();
            }
        }
        for (Pair<String, Parameter> pair : model.base().getParameters()) {
            assertThat(pair.getValue().requiresGradient()).as("base parameter %s must be frozen", pair.getKey()).isFalse();
        }
    }

    @Test
    void testSaveAndLoadGiveIdenticalOutputs() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] expected = logits(model);
        Map<String, NDArray> saved = copy(AdapterState.collect(adapter, manager));
        assertThat(saved).isNotEmpty();
        for (String key : saved.keySet()) {
            assertThat(model.base().stateDict()).as("saved adapter key %s must not be a base weight", key).doesNotContainKey(key);
            assertThat(key).as("saved key").doesNotContain(".default.");
        }

        PeftModel reloaded = newModel();
        Adapter fresh = attach(reloaded, "default", Composition.SUM);
        AdapterState.apply(fresh, saved);
        assertClose(logits(reloaded), expected, 0, "logits after save and load");
        assertThat(AdapterState.collect(fresh, manager).keySet()).containsExactlyElementsOf(saved.keySet());
    }

    @Test
    void testUnknownOptionIsRejectedWithPluginKeyAndAllowedKeys() {
        MethodDescriptor descriptor = method().descriptor();
        Map<String, Object> options = new LinkedHashMap<>(options());
        options.put("no_such_option", 1);
        PeftModel model = newModel();
        Throwable thrown = catchThrowable(() -> model.addAdapter(spec("default", options, Composition.SUM), method()));
        assertThat(thrown).isInstanceOf(InvalidOptionsException.class)
                .hasMessageContaining(descriptor.id()).hasMessageContaining("no_such_option");
        for (String allowed : descriptor.options().names()) {
            assertThat(thrown.getMessage()).as("the message lists allowed option %s", allowed).contains(allowed);
        }
        assertThat(model.adapters()).isEmpty();
    }

    @Test
    void testInvalidOptionValuesAreRejected() {
        Map<String, Map<String, Object>> invalid = invalidOptions();
        assumeTrue(!invalid.isEmpty(), "the method declares no invalid option sets");
        for (Map.Entry<String, Map<String, Object>> entry : invalid.entrySet()) {
            PeftModel model = newModel();
            assertThatThrownBy(() -> model.addAdapter(spec("default", entry.getValue(), Composition.SUM), method()))
                    .as(entry.getKey()).isInstanceOf(InvalidOptionsException.class).hasMessageContaining(method().descriptor().id());
        }
    }

    @Test
    void testGatedCompositionTrainsGatesAndRefusesToMerge() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "gated", Composition.GATED);
        perturb(adapter);
        logits(model);
        List<GateReading> readings = model.gateReadings();
        assertThat(readings).hasSize(adapter.sites().size());
        for (GateReading reading : readings) {
            assertThat(reading.values()).hasSize(2);
            for (float value : reading.values()) {
                assertThat(value).as("gate at %s", reading.site()).isStrictlyBetween(0f, 1f);
            }
        }
        assertThatThrownBy(() -> model.merge(List.of("gated"))).isInstanceOf(IllegalStateException.class).hasMessageContaining("gated");
    }

    @Test
    void testForwardAndMergeLeaveNothingInTheModelManager() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        model.base().manager().cap();
        logits(model);
        logits(model);
        if (adapter.descriptor().mergeable()) {
            model.merge(List.of("default"));
            logits(model);
            model.unmerge(List.of("default"));
        }
    }

    @Test
    void testDeletedOrDeactivatedAdapterRestoresTheBase() {
        PeftModel model = newModel();
        float[] base = logits(model);
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        assertThat(logits(model)).as("a perturbed adapter must change the logits").isNotEqualTo(base);
        model.setActiveAdapters(List.of());
        assertClose(logits(model), base, 0, "logits with every adapter inactive");
        model.setActiveAdapters(List.of("default"));
        model.deleteAdapter("default");
        assertClose(logits(model), base, 0, "logits after deleting the adapter");
        assertThat(model.trainableParameterCount()).isZero();
    }

    /** A fresh tiny Llama with seeded weights, wrapped for adapters. */
    protected final PeftModel newModel() {
        LlamaConfig config = LlamaConfig.tiny();
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, modelManager, 42), modelManager, null));
    }

    /** Attaches the method under test with {@link #options()} and {@link #targetModules()}. */
    protected final Adapter attach(PeftModel model, String name, Composition composition) {
        return model.addAdapter(spec(name, options(), composition), method());
    }

    private AdapterSpec spec(String name, Map<String, Object> options, Composition composition) {
        Map<String, Object> targets = new HashMap<>();
        if (method().descriptor().siteKinds().contains(SiteKind.LINEAR)) {
            targets.put("target_modules", targetModules());
        }
        return new AdapterSpec(name, options, TargetRules.fromConfig(targets), composition);
    }

    /** Logits of the fixed batch (two sequences of 6, one left-padded). */
    protected final float[] logits(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), inputs(batch), false).singletonOrThrow().toFloatArray();
        }
    }

    private static NDList inputs(NDManager batch) {
        return new NDList(batch.create(TOKEN_IDS), batch.create(ATTENTION_MASK));
    }

    private static NDArray target(NDManager batch) {
        return batch.randomNormal(0f, 1f, new Shape(2, 6, LlamaConfig.tiny().vocabularySize()), DataType.FLOAT32);
    }

    /** Adds N(0, 0.1) noise to every trainable tensor so adapters are not trivial. */
    protected final void perturb(Adapter adapter) {
        for (Parameter parameter : adapter.trainableParameters()) {
            NDArray array = parameter.getArray();
            try (NDManager scratch = manager.newSubManager()) {
                NDArray noise = scratch.randomNormal(0f, 0.1f, array.getShape(), DataType.FLOAT32).toType(array.getDataType(), false);
                array.addi(noise);
            }
        }
    }

    private Map<String, NDArray> copy(Map<String, NDArray> arrays) {
        Map<String, NDArray> copies = new LinkedHashMap<>();
        arrays.forEach((key, value) -> {
            NDArray duplicate = value.duplicate();
            duplicate.attach(manager);
            copies.put(key, duplicate);
        });
        return copies;
    }

    private static Map<String, byte[]> bytes(Map<String, NDArray> arrays) {
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        arrays.forEach((key, value) -> bytes.put(key, value.toByteArray()));
        return bytes;
    }

    private static Map<String, float[]> values(List<Parameter> parameters) {
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Parameter parameter : parameters) {
            values.put(parameter.getId(), parameter.getArray().toType(DataType.FLOAT32, true).toFloatArray());
        }
        return values;
    }

    private static Throwable catchThrowable(Runnable runnable) {
        try {
            runnable.run();
        }
        catch (Throwable thrown) {
            return thrown;
        }
        return fail("expected an exception");
    }

    /** Asserts element-wise {@code |actual − expected| ≤ tolerance}, naming the first offending index. */
    protected static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        List<String> problems = new ArrayList<>();
        for (int index = 0; index < actual.length && problems.size() < 5; index++) {
            if (!(Math.abs(actual[index] - expected[index]) <= tolerance)) {
                problems.add(String.format("[%d] %s vs %s", index, actual[index], expected[index]));
            }
        }
        assertThat(problems).as("%s within %s", what, tolerance).isEmpty();
    }
}
