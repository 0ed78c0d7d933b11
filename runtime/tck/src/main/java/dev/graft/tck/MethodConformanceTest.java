package dev.graft.tck;

import static dev.graft.tck.ArrayAssertions.maximumDifference;
import static java.lang.String.format;
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
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterState;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The conformance kit for a PEFT method plugin. Extend it in a few lines:
 * <pre>{@code
 * final class TestMyMethodConformance extends MethodConformanceTest {
 *     protected PeftMethod method() { return new MyMethod(); }
 *     protected Map<String, Object> options() { return Map.of("r", 4); }
 *     // what the checkpoint holds, per site, relative to the site's module name
 *     protected Map<String, Shape> expectedSiteTensors(Site site) {
 *         LinearSite linear = (LinearSite) site;
 *         return Map.of("my_A.weight", new Shape(4, linear.inFeatures()), "my_B.weight", new Shape(linear.outFeatures(), 4));
 *     }
 *     // ΔW from the saved tensors by the paper's formula, in plain Java
 *     protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
 *         return Matrices.product(tensors.site(site, "my_B.weight").matrix(), tensors.site(site, "my_A.weight").matrix());
 *     }
 * }
 * }</pre>
 * Every test runs the method on the runtime's real models ({@link TinyModel}: a Llama with grouped-query attention
 * and left padding, and a BERT with biases and right padding; float32, and float16 with float32 adapters) and checks
 * the promises of DESIGN.md: identity at default init, merge/unmerge equivalence within 1e-4, only adapter
 * parameters change when training (base bit-identical), gradients reach every trainable tensor, save/load gives
 * identical outputs with only adapter tensors saved (gated adapters too, gates included), the trainable count
 * equals the method's formula, bad options are rejected with a clear message, gated composition works, dropout acts
 * in training only, and the method respects DJL ownership: forward, backward and merge attach nothing new to the
 * model's memory, close or take no array they are given, and leave parameter values unchanged.
 *
 * <p>What the author declares is compared with what the method does: the checkpoint's exact keys and shapes
 * ({@link #expectedSiteTensors}, {@link #expectedSharedTensors}), and for a merging method an independent reference
 * of ΔW ({@link #referenceDelta}) that merging and the unmerged forward must both match after the adapter's tensors
 * are set to random values. Fixtures for the method's own tests: {@link TinyModel}, {@link AdapterTensors},
 * {@link AdapterFiles}, {@link ArrayAssertions}, {@link Matrices}.
 */
public abstract class MethodConformanceTest {
    /** The logits tolerance of merge equivalence, as Hugging Face PEFT's tests. */
    protected static final double MERGE_TOLERANCE = 1e-4;
    /** The tolerance of a float16 base against its float32 twin, on outputs of magnitude about 1. */
    protected static final double HALF_TOLERANCE = 2e-2;

    private static final long RANDOM_TENSORS_SEED = 20_240_917;

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

    /**
     * The tensors the method saves at one site it attaches to, keyed relative to the site's Hugging Face module name,
     * with their shapes: for LoRA {@code lora_A.weight → (r, in)} and {@code lora_B.weight → (out, r)}; an empty map
     * where the method saves nothing per site (prompt tuning). Called for every site of the adapter on each tiny model
     * (a {@link LinearSite} gives {@code in} and {@code out}). {@code null}, the default, declares nothing and skips the
     * checkpoint checks. Gates are not declared: the kit expects them on gated adapters.
     */
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return null;
    }

    /**
     * The tensors saved under full keys rather than per site ({@code base_model.vera_A}, {@code prompt_embeddings}),
     * with their shapes, on the model {@code model} describes. None by default.
     */
    protected Map<String, Shape> expectedSharedTensors(ModelContext model) {
        return Map.of();
    }

    /**
     * For a merging method, an independent reference of ΔW at {@code site} ({@code out × in}), computed from the saved
     * {@code tensors} by the paper's (or PEFT's) formula in plain Java, e.g. with {@link Matrices}; {@code weight} is
     * the site's base weight ({@code out × in}) for methods whose update depends on it (IA³, BAT). The kit sets every
     * tensor of the adapter to random values ({@link AdapterTensors#randomize}), then checks that merging adds exactly
     * this to the base weight at every site (within {@value #MERGE_TOLERANCE}) and that the unmerged adapter's logits
     * equal those of the base model with {@code W + ΔW} at every site. {@code null}, the default, skips the check
     * (for a method that cannot merge, or whose saved tensors do not determine ΔW).
     */
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        return null;
    }

    /**
     * Options with a non-zero dropout: a training forward must then differ from evaluation, evaluation must stay
     * deterministic and gradients must still reach every tensor. Empty (the default) for a method without dropout.
     */
    protected Map<String, Object> dropoutOptions() {
        return Map.of();
    }

    /** Options on the tiny BERT; {@link #options()} by default. */
    protected Map<String, Object> bertOptions() {
        return options();
    }

    /** PEFT {@code target_modules} on the tiny BERT for linear-site methods: {@code query} and {@code value} by default. */
    protected List<String> bertTargetModules() {
        return TinyModel.BERT.attentionTargets();
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
        assertGradientsReachEveryTrainableTensor(TinyModel.LLAMA, model, adapter);
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
        model.setGateRecording(true);
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

    @Test
    void testSavedCheckpointHasExactlyTheDeclaredKeysAndShapes() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        assumeTrue(declaresCheckpoint(adapter, model), "the test declares no checkpoint layout (expectedSiteTensors)");
        assertSavedCheckpointIsDeclared(model, adapter);
    }

    @Test
    void testMergedUpdateEqualsTheReferenceDelta() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        assumeTrue(adapter.descriptor().mergeable(), "the method cannot merge");
        Map<String, float[][]> baseWeights = siteWeights(model, adapter);
        CheckpointTensors tensors = AdapterTensors.randomize(adapter, RANDOM_TENSORS_SEED);
        Map<String, float[][]> references = new LinkedHashMap<>();
        for (Site site : adapter.sites()) {
            String key = weightKey(site);
            float[][] reference = referenceDelta((LinearSite) site, copyOf(baseWeights.get(key)), tensors);
            assumeTrue(reference != null, "the test declares no reference ΔW (referenceDelta)");
            references.put(key, reference);
        }
        float[] unmerged = logits(model);

        model.merge(List.of("default"));
        Map<String, float[][]> mergedWeights = siteWeights(model, adapter);
        for (Site site : adapter.sites()) {
            String key = weightKey(site);
            ArrayAssertions.assertClose(Matrices.difference(mergedWeights.get(key), baseWeights.get(key)), references.get(key), MERGE_TOLERANCE,
                    format("ΔW merged into %s (merged − base) against the declared reference", site.name()));
        }
        model.unmerge(List.of("default"));
        try (NDManager referenceManager = manager.newSubManager()) {
            PeftModel expected = TinyModel.LLAMA.createWithDeltas(referenceManager, references);
            assertClose(unmerged, logits(expected), MERGE_TOLERANCE, "logits of the unmerged adapter against the base model with W + reference ΔW at every site");
        }
    }

    @Test
    void testForwardBackwardAndMergeKeepOwnership() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        Ownership before = new Ownership(model, adapter);
        float[] first = logits(model);
        before.check("an evaluation forward");
        assertThat(logits(model)).as("a second evaluation forward gives the same logits").containsExactly(first);
        before.check("a second evaluation forward");

        try (NDManager batch = manager.newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray output = model.forward(new ParameterStore(batch, false), inputs(batch), true).singletonOrThrow();
            collector.backward(output.sub(target(batch)).square().mean());
        }
        before.check("a training forward and backward");
        assertThat(logits(model)).as("logits after a training forward and backward (no optimizer step)").containsExactly(first);
        if (adapter.descriptor().mergeable()) {
            model.merge(List.of("default"));
            before.checkAdapter("merge");
            logits(model);
            model.unmerge(List.of("default"));
            before.checkAdapter("unmerge");
            assertClose(logits(model), first, MERGE_TOLERANCE, "logits after merge and unmerge");
        }
    }

    @Test
    void testOnTheTinyBert() {
        PeftModel model = newModel(TinyModel.BERT, DataType.FLOAT32);
        float[] base = TinyModel.BERT.output(model, manager);
        Adapter adapter = model.addAdapter(spec("default", bertOptions(), Composition.SUM, bertTargetModules()), method());
        if (identityAtInit()) {
            assertClose(TinyModel.BERT.output(model, manager), base, 1e-6, "a freshly attached adapter must leave BERT's output unchanged");
        }
        assertThat(model.trainableParameterCount()).as("trainable parameters on BERT counted on the model vs the method's formula")
                .isEqualTo(adapter.instance().trainableParameterCount(adapter.sites()));
        if (declaresCheckpoint(adapter, model)) {
            assertSavedCheckpointIsDeclared(model, adapter);
        }
        perturb(adapter);
        float[] unmerged = TinyModel.BERT.output(model, manager);
        assertThat(maximumDifference(unmerged, base)).as("a perturbed adapter changes BERT's output").isPositive();
        if (adapter.descriptor().mergeable()) {
            model.merge(List.of("default"));
            assertClose(TinyModel.BERT.output(model, manager), unmerged, MERGE_TOLERANCE, "BERT merged");
            model.unmerge(List.of("default"));
            assertClose(TinyModel.BERT.output(model, manager), unmerged, MERGE_TOLERANCE, "BERT unmerged");
        }
        withTemporaryDirectory(directory -> {
            AdapterFiles.save(model, "default", directory);
            PeftModel reloaded = newModel(TinyModel.BERT, DataType.FLOAT32);
            AdapterFiles.load(reloaded, directory, "default", method());
            assertClose(TinyModel.BERT.output(reloaded, manager), unmerged, 0, "BERT's output after save and load");
        });
        assertGradientsReachEveryTrainableTensor(TinyModel.BERT, model, adapter);
    }

    @Test
    void testFloat16BaseWithFloat32Adapter() {
        PeftModel half = newModel(TinyModel.LLAMA, DataType.FLOAT16);
        PeftModel twin = TinyModel.LLAMA.createFloat16Twin(manager);
        Adapter halfAdapter = attachSeededAndPerturbed(half);
        attachSeededAndPerturbed(twin);
        for (Parameter parameter : halfAdapter.trainableParameters()) {
            assertThat(parameter.getArray().getDataType()).as("adapter parameter %s on a float16 base", parameter.getName()).isEqualTo(DataType.FLOAT32);
        }
        float[] expected = logits(twin);
        try (NDManager batch = manager.newSubManager()) {
            NDArray output = TinyModel.LLAMA.output(half, batch, false);
            assertThat(output.getDataType()).as("a float16 model's logits").isEqualTo(DataType.FLOAT16);
            assertClose(output.toType(DataType.FLOAT32, false).toFloatArray(), expected, HALF_TOLERANCE,
                    "logits of the float16 base with the adapter against its float32 twin");
        }
        if (halfAdapter.descriptor().mergeable()) {
            half.merge(List.of("default"));
            assertClose(logits(half), expected, HALF_TOLERANCE, "logits merged into the float16 base");
            half.unmerge(List.of("default"));
            assertClose(logits(half), expected, HALF_TOLERANCE, "logits unmerged from the float16 base");
        }
        assertGradientsReachEveryTrainableTensor(TinyModel.LLAMA, half, halfAdapter);
    }

    @Test
    void testDropoutActsInTrainingOnly() {
        Map<String, Object> options = dropoutOptions();
        assumeTrue(!options.isEmpty(), "the test declares no dropout options (dropoutOptions)");
        PeftModel model = newModel();
        Adapter adapter = model.addAdapter(spec("default", options, Composition.SUM), method());
        perturb(adapter);
        float[] evaluation = logits(model);
        assertThat(logits(model)).as("evaluation with dropout is deterministic").containsExactly(evaluation);
        try (NDManager batch = manager.newSubManager()) {
            float[] training = TinyModel.LLAMA.output(model, batch, true).toFloatArray();
            assertThat(maximumDifference(training, evaluation)).as("a training forward with dropout %s differs from evaluation", options).isPositive();
        }
        assertGradientsReachEveryTrainableTensor(TinyModel.LLAMA, model, adapter);
    }

    @Test
    void testGatedAdapterSavedAndLoadedGivesIdenticalOutputsAndGates() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "gated", Composition.GATED);
        AdapterTensors.randomize(adapter, RANDOM_TENSORS_SEED);
        model.setGateRecording(true);
        float[] expected = logits(model);
        List<GateReading> gates = model.gateReadings();
        withTemporaryDirectory(directory -> {
            Map<String, Shape> saved = AdapterFiles.save(model, "gated", directory);
            for (Site site : adapter.sites()) {
                assertThat(saved).as("saved gate of %s", site.name())
                        .containsKeys(CheckpointTensors.siteKey(site, AdapterState.GATE_WEIGHT), CheckpointTensors.siteKey(site, AdapterState.GATE_BIAS));
            }
            PeftModel reloaded = newModel();
            Adapter loaded = AdapterFiles.load(reloaded, directory, "gated", method());
            reloaded.setGateRecording(true);
            assertThat(loaded.composition()).as("composition of the reloaded adapter").isEqualTo(Composition.GATED);
            assertClose(logits(reloaded), expected, 0, "logits of the gated adapter after save and load");
            List<GateReading> reloadedGates = reloaded.gateReadings();
            assertThat(reloadedGates).hasSameSizeAs(gates);
            for (int index = 0; index < gates.size(); index++) {
                assertThat(reloadedGates.get(index).site()).isEqualTo(gates.get(index).site());
                assertThat(reloadedGates.get(index).values()).as("gate values at %s after save and load", gates.get(index).site())
                        .containsExactly(gates.get(index).values());
            }
        });
    }

    /** A fresh tiny Llama with seeded weights, wrapped for adapters. */
    protected final PeftModel newModel() {
        return TinyModel.LLAMA.create(manager, DataType.FLOAT32);
    }

    /** A fresh tiny model of {@code kind}, float32 or float16, in the kit's manager. */
    protected final PeftModel newModel(TinyModel kind, DataType type) {
        return kind.create(manager, type);
    }

    /** The manager of the running test; closed after it. */
    protected final NDManager manager() {
        return manager;
    }

    /** Attaches the method under test with {@link #options()} and {@link #targetModules()}. */
    protected final Adapter attach(PeftModel model, String name, Composition composition) {
        return model.addAdapter(spec(name, options(), composition), method());
    }

    private AdapterSpec spec(String name, Map<String, Object> options, Composition composition) {
        return spec(name, options, composition, targetModules());
    }

    private AdapterSpec spec(String name, Map<String, Object> options, Composition composition, List<String> targetModules) {
        Map<String, Object> targets = new HashMap<>();
        if (method().descriptor().siteKinds().contains(SiteKind.LINEAR)) {
            targets.put("target_modules", targetModules);
        }
        return new AdapterSpec(name, options, TargetRules.fromConfig(targets), composition);
    }

    /** Logits of the fixed batch (two sequences of 6, one left-padded). */
    protected final float[] logits(PeftModel model) {
        return TinyModel.LLAMA.output(model, manager);
    }

    private static NDList inputs(NDManager batch) {
        return TinyModel.LLAMA.inputs(batch);
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

    private boolean declaresCheckpoint(Adapter adapter, PeftModel model) {
        return expectedSiteTensors(adapter.sites().get(0)) != null || !expectedSharedTensors(model.base().context()).isEmpty();
    }

    /** Saves the adapter to a file and compares its keys and shapes with the declared ones, exactly. */
    private void assertSavedCheckpointIsDeclared(PeftModel model, Adapter adapter) {
        Map<String, Shape> expected = new TreeMap<>();
        for (Site site : adapter.sites()) {
            Map<String, Shape> perSite = expectedSiteTensors(site);
            assertThat(perSite).as("declared tensors at %s (expectedSiteTensors returned null)", site.name()).isNotNull();
            perSite.forEach((key, shape) -> expected.put(CheckpointTensors.siteKey(site, key), shape));
            if (adapter.composition() == Composition.GATED) {
                expected.put(CheckpointTensors.siteKey(site, AdapterState.GATE_WEIGHT), null);
                expected.put(CheckpointTensors.siteKey(site, AdapterState.GATE_BIAS), null);
            }
        }
        expected.putAll(expectedSharedTensors(model.base().context()));
        withTemporaryDirectory(directory -> {
            Map<String, Shape> saved = new TreeMap<>(AdapterFiles.save(model, adapter.name(), directory));
            List<String> problems = new java.util.ArrayList<>();
            for (Map.Entry<String, Shape> entry : expected.entrySet()) {
                Shape found = saved.get(entry.getKey());
                if (!saved.containsKey(entry.getKey())) {
                    problems.add(format("missing key %s (declared shape %s)", entry.getKey(), entry.getValue()));
                }
                else if (entry.getValue() != null && !entry.getValue().equals(found)) {
                    problems.add(format("key %s has shape %s, declared %s", entry.getKey(), found, entry.getValue()));
                }
            }
            for (Map.Entry<String, Shape> entry : saved.entrySet()) {
                if (!expected.containsKey(entry.getKey())) {
                    problems.add(format("undeclared key %s (shape %s)", entry.getKey(), entry.getValue()));
                }
            }
            assertThat(problems).as("the saved %s adapter's checkpoint against the declared keys and shapes", model.base().modelType()).isEmpty();
        });
    }

    private static String weightKey(Site site) {
        return site.name() + ".weight";
    }

    /** The base weight of every site of {@code adapter}, by Hugging Face weight key, as float32 matrices. */
    private static Map<String, float[][]> siteWeights(PeftModel model, Adapter adapter) {
        Map<String, NDArray> state = model.base().stateDict();
        Map<String, float[][]> weights = new LinkedHashMap<>();
        for (Site site : adapter.sites()) {
            NDArray weight = state.get(weightKey(site));
            assertThat(weight).as("base weight of linear site %s", site.name()).isNotNull();
            float[] values = weight.toType(DataType.FLOAT32, true).toFloatArray();
            weights.put(weightKey(site), new SavedTensor(weight.getShape(), values).matrix());
        }
        return weights;
    }

    private static float[][] copyOf(float[][] matrix) {
        float[][] copy = new float[matrix.length][];
        for (int row = 0; row < matrix.length; row++) {
            copy[row] = Arrays.copyOf(matrix[row], matrix[row].length);
        }
        return copy;
    }

    /** Attaches the method as "default" and perturbs it from a fixed engine seed: two models get the same adapter. */
    private Adapter attachSeededAndPerturbed(PeftModel model) {
        Engine.getInstance().setRandomSeed(4321);
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        return adapter;
    }

    /** A training forward and backward of a squared error on {@code kind}'s output: every trainable tensor gets a gradient, the base none. */
    private void assertGradientsReachEveryTrainableTensor(TinyModel kind, PeftModel model, Adapter adapter) {
        try (NDManager batch = manager.newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            // in the output's own type: DJL's toType leaves the autograd graph
            NDArray output = kind.output(model, batch, true);
            NDArray target = batch.randomNormal(0f, 1f, output.getShape(), DataType.FLOAT32).toType(output.getDataType(), false);
            collector.backward(output.sub(target).square().mean());
            for (Parameter parameter : adapter.trainableParameters()) {
                NDArray gradient = parameter.getArray().getGradient();
                assertThat(gradient.abs().sum().getFloat()).as("gradient of %s on the %s %s model", parameter.getName(), model.base().modelType(), kind).isPositive();
            }
        }
        for (Pair<String, Parameter> pair : model.base().getParameters()) {
            assertThat(pair.getValue().requiresGradient()).as("base parameter %s must be frozen", pair.getKey()).isFalse();
        }
    }

    private static void withTemporaryDirectory(java.util.function.Consumer<Path> action) {
        Path directory;
        try {
            directory = Files.createTempDirectory("graft-tck-");
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            action.accept(directory);
        }
        finally {
            try (java.util.stream.Stream<Path> paths = Files.walk(directory)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
            catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * What a method must not change by running: each parameter's array (the same object, open, in the same manager,
     * with the same values) and the number of arrays in the model's manager, sub-managers included.
     */
    private static final class Ownership {
        private final PeftModel model;
        private final Map<String, Parameter> adapterParameters = new LinkedHashMap<>();
        private final Map<String, Parameter> baseParameters = new LinkedHashMap<>();
        private final Map<Parameter, NDArray> arrays = new IdentityHashMap<>();
        private final Map<Parameter, NDManager> managers = new IdentityHashMap<>();
        private final Map<Parameter, byte[]> values = new IdentityHashMap<>();
        private final Map<NDArray, Boolean> managed = new IdentityHashMap<>();

        Ownership(PeftModel model, Adapter adapter) {
            this.model = model;
            adapter.attachments().forEach((site, attachment) -> attachment.module().getParameters()
                    .forEach(pair -> adapterParameters.put(site.name() + "." + pair.getKey(), pair.getValue())));
            adapter.instance().sharedParameters().forEach(adapterParameters::put);
            model.base().getParameters().forEach(pair -> baseParameters.put(pair.getKey(), pair.getValue()));
            for (Map<String, Parameter> parameters : List.of(adapterParameters, baseParameters)) {
                for (Parameter parameter : parameters.values()) {
                    arrays.put(parameter, parameter.getArray());
                    managers.put(parameter, parameter.getArray().getManager());
                    values.put(parameter, parameter.getArray().toByteArray());
                }
            }
            model.base().manager().getManagedArrays().forEach(array -> managed.put(array, Boolean.TRUE));
        }

        void check(String operation) {
            checkAdapter(operation);
            checkParameters(baseParameters, operation, true);
        }

        void checkAdapter(String operation) {
            checkParameters(adapterParameters, operation, true);
            List<String> added = new java.util.ArrayList<>();
            for (NDArray array : model.base().manager().getManagedArrays()) {
                if (!managed.containsKey(array)) {
                    added.add(format("%s %s %s", array.getName() == null ? "unnamed" : array.getName(), array.getDataType(), array.getShape()));
                }
            }
            assertThat(added).as("arrays attached to the model's manager by %s (scope temporaries in newSubManager() and hand back only the output)", operation)
                    .isEmpty();
        }

        private void checkParameters(Map<String, Parameter> parameters, String operation, boolean sameValues) {
            parameters.forEach((name, parameter) -> {
                NDArray array = parameter.getArray();
                assertThat(array).as("parameter %s after %s: still the same array (a module must not replace or keep what ParameterStore gives it)", name, operation)
                        .isSameAs(arrays.get(parameter));
                assertThat(array.isReleased()).as("parameter %s after %s: closed (a module closed an array it got from ParameterStore)", name, operation).isFalse();
                assertThat(array.getManager()).as("parameter %s after %s: moved to another manager (a module attached an array it got from ParameterStore)", name, operation)
                        .isSameAs(managers.get(parameter));
                if (sameValues) {
                    assertThat(Arrays.equals(array.toByteArray(), values.get(parameter))).as("parameter %s after %s: values unchanged", name, operation).isTrue();
                }
            });
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

    /** Asserts element-wise {@code |actual − expected| ≤ tolerance}, naming the first offending index; see {@link ArrayAssertions}. */
    protected static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        ArrayAssertions.assertClose(actual, expected, tolerance, what);
    }
}
