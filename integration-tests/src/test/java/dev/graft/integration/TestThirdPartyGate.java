package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.Gate;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.plugin.PluginClassLoader;
import dev.graft.runtime.targeting.TargetRules;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gate rule holds for a method the runtime has never seen: a third-party plugin jar, compiled at test time, with an
 * additive linear module and no gate code, loaded through the registry and attached gated. Gate logits forced very
 * negative give the base model, very positive the plain sum (scale 1), and the gates receive gradients.
 */
final class TestThirdPartyGate {
    static final String PACKAGE = "com.example.thirdparty";
    private static final long[][] IDS = {{1, 5, 9, 2, 6, 5}, {3, 5, 8, 9, 7, 9}};
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();

    @TempDir
    static Path scratch;

    private static MethodRegistry registry;

    @BeforeAll
    static void buildAndLoad() throws IOException {
        Path directory = scratch.resolve("third-party-plugins");
        PluginJarBuilder.in(scratch.resolve("work"))
                .source(PACKAGE + ".ShiftMethod", SHIFT_METHOD)
                .build(directory.resolve("shift.jar"));
        registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(directory));
        assertThat(registry.problems()).isEmpty();
        assertThat(registry.requireMethod("shift").classLoader()).isInstanceOf(PluginClassLoader.class);
    }

    @Test
    void testForcedGatesGiveTheBaseOrThePlainSum() {
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] base = logits(model(manager, null, 0f), manager);
            float[] summed = logits(model(manager, Composition.SUM, 0f), manager);
            assertThat(maximumDifference(summed, base)).as("the plugin's update changes the logits").isGreaterThan(1e-2);

            float[] shut = logits(model(manager, Composition.GATED, -1e4f), manager);
            float[] open = logits(model(manager, Composition.GATED, 1e4f), manager);
            assertThat(maximumDifference(shut, base)).as("gates forced shut against the base model").isLessThanOrEqualTo(1e-5);
            assertThat(maximumDifference(open, summed)).as("gates forced open against the plain sum (scale 1)").isLessThanOrEqualTo(1e-5);
        }
    }

    @Test
    void testThePluginsGatesReceiveGradients() {
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = model(manager, Composition.GATED, 0f);
            List<Gate> gates = gates(model);
            assertThat(gates).hasSize(2 * CONFIG.numLayers());
            for (Gate gate : gates) {
                gate.getParameters().forEach(pair -> pair.getValue().getArray().setRequiresGradient(true));
            }
            try (NDManager batch = manager.newSubManager(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS)), true).singletonOrThrow();
                collector.backward(logits.square().sum());
                for (Gate gate : gates) {
                    float[] weightGradient = gate.getParameters().get("weight").getArray().getGradient().toFloatArray();
                    float[] biasGradient = gate.getParameters().get("bias").getArray().getGradient().toFloatArray();
                    double largest = 0;
                    for (float value : weightGradient) {
                        largest = Math.max(largest, Math.abs(value));
                    }
                    assertThat(largest).as("|∂L/∂W_g| of the plugin's gate").isGreaterThan(1e-6);
                    assertThat((double) Math.abs(biasGradient[0])).as("|∂L/∂b_g| of the plugin's gate").isGreaterThan(1e-6);
                }
            }
        }
    }

    /** A tiny Llama with the plugin on q_proj and v_proj, composed by {@code composition} (none when null), every gate bias at {@code logit}. */
    private static PeftModel model(NDManager manager, Composition composition, float logit) {
        NDManager modelManager = manager.newSubManager();
        PeftModel model = new PeftModel(LlamaForCausalLM.create(CONFIG, LlamaWeights.random(CONFIG, modelManager, 7), modelManager, null));
        if (composition != null) {
            LoadedMethod method = registry.requireMethod("shift");
            Adapter adapter = model.addAdapter(new AdapterSpec("shifted", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"))), composition),
                    method.method());
            assertThat(adapter.composition()).isEqualTo(composition);
            for (Gate gate : gates(model)) {
                gate.getParameters().get("bias").getArray().set(new float[] {logit});
            }
        }
        return model;
    }

    private static List<Gate> gates(PeftModel model) {
        List<Gate> gates = new ArrayList<>();
        for (Adapter adapter : model.adapters().values()) {
            for (Attachment attachment : adapter.attachments().values()) {
                attachment.gate().ifPresent(gates::add);
            }
        }
        return gates;
    }

    private static float[] logits(PeftModel model, NDManager manager) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS)), false).singletonOrThrow().toFloatArray();
        }
    }

    private static double maximumDifference(float[] first, float[] second) {
        assertThat(first).hasSameSizeAs(second);
        double maximum = 0;
        for (int index = 0; index < first.length; index++) {
            maximum = Math.max(maximum, Math.abs(first[index] - second[index]));
        }
        return maximum;
    }

    /**
     * A third-party additive linear method: {@code delta(x) = x·Uᵀ} with a fixed update {@code U} of 0.01 everywhere
     * (so the plain sum differs from the base), scaling 1, and no gate code.
     */
    static final String SHIFT_METHOD = String.join("\n",
            "package " + PACKAGE + ";",
            "",
            "import ai.djl.ndarray.NDArray;",
            "import ai.djl.ndarray.NDList;",
            "import ai.djl.ndarray.types.Shape;",
            "import ai.djl.nn.AbstractBlock;",
            "import ai.djl.nn.Parameter;",
            "import ai.djl.nn.core.Linear;",
            "import ai.djl.training.ParameterStore;",
            "import ai.djl.training.initializer.ConstantInitializer;",
            "import ai.djl.util.PairList;",
            "import com.google.auto.service.AutoService;",
            "import dev.graft.spi.AdditiveLinearModule;",
            "import dev.graft.spi.LinearSite;",
            "import dev.graft.spi.MethodDescriptor;",
            "import dev.graft.spi.MethodInstance;",
            "import dev.graft.spi.MethodModule;",
            "import dev.graft.spi.MethodOptions;",
            "import dev.graft.spi.ModelContext;",
            "import dev.graft.spi.OptionSchema;",
            "import dev.graft.spi.PeftMethod;",
            "import dev.graft.spi.Site;",
            "import dev.graft.spi.SiteKind;",
            "import dev.graft.spi.SpiVersion;",
            "import java.util.EnumSet;",
            "import java.util.List;",
            "import java.util.Map;",
            "",
            "@AutoService(PeftMethod.class)",
            "public final class ShiftMethod implements PeftMethod {",
            "    @Override",
            "    public MethodDescriptor descriptor() {",
            "        return new MethodDescriptor(\"shift\", \"1.0.0\", SpiVersion.CURRENT, \"SHIFT\", EnumSet.of(SiteKind.LINEAR), Module.class,",
            "                OptionSchema.of(), Map.of(), \"a third-party additive update the runtime has never seen\");",
            "    }",
            "",
            "    @Override",
            "    public MethodInstance create(MethodOptions options, ModelContext model) {",
            "        return new Instance();",
            "    }",
            "",
            "    static final class Instance implements MethodInstance {",
            "        @Override",
            "        public MethodModule attach(Site site) {",
            "            return new Module((LinearSite) site);",
            "        }",
            "",
            "        @Override",
            "        public long trainableParameterCount(List<Site> sites) {",
            "            return sites.stream().mapToLong(site -> (long) ((LinearSite) site).outFeatures() * ((LinearSite) site).inFeatures()).sum();",
            "        }",
            "    }",
            "",
            "    static final class Module extends AbstractBlock implements AdditiveLinearModule {",
            "        private final LinearSite site;",
            "        private final Parameter update;",
            "",
            "        Module(LinearSite site) {",
            "            super((byte) 1);",
            "            this.site = site;",
            "            this.update = addParameter(Parameter.builder().setName(\"update\").setType(Parameter.Type.WEIGHT)",
            "                    .optShape(new Shape(site.outFeatures(), site.inFeatures())).optInitializer(new ConstantInitializer(0.01f)).build());",
            "        }",
            "",
            "        @Override",
            "        public Site site() {",
            "            return site;",
            "        }",
            "",
            "        @Override",
            "        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {",
            "            return Linear.linear(x, parameterStore.getValue(update, x.getDevice(), training)).singletonOrThrow();",
            "        }",
            "",
            "        @Override",
            "        public float scaling() {",
            "            return 1f;",
            "        }",
            "",
            "        @Override",
            "        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {",
            "            return new NDList(delta(parameterStore, inputs.singletonOrThrow(), training));",
            "        }",
            "",
            "        @Override",
            "        public Shape[] getOutputShapes(Shape[] inputShapes) {",
            "            Shape input = inputShapes[0];",
            "            return new Shape[] {input.slice(0, input.dimension() - 1).add(site.outFeatures())};",
            "        }",
            "    }",
            "}",
            "");
}
