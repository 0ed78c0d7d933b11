package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import dev.graft.runtime.compose.Composition;
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
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin boundary's promise: every call into plugin code runs with the plugin's class loader as the thread's
 * context class loader (as Trino wraps every SPI call), not only discovery. A plugin compiled at test time records
 * the context class loader in create(), prepare(), attach(), its module's constructor, forward and merge, and its
 * event handler; the test reads the records back by reflection (the plugin's classes are not on the test's class
 * path) and puts its own loader back as the context loader each time, so a missing swap shows.
 */
final class TestPluginBoundary {
    private static final String PACKAGE = "com.example.boundary";

    @TempDir
    static Path scratch;

    private static MethodRegistry registry;

    @BeforeAll
    static void buildAndLoad() throws IOException {
        Path directory = scratch.resolve("boundary-plugins");
        PluginJarBuilder.in(scratch.resolve("work"))
                .source(PACKAGE + ".RecordingMethod", RECORDING_METHOD)
                .build(directory.resolve("recording.jar"));
        registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(directory));
        assertThat(registry.problems()).isEmpty();
    }

    @Test
    void testEveryCallIntoThePluginRunsWithItsClassLoader() throws ReflectiveOperationException {
        LoadedMethod method = registry.requireMethod("recording");
        ClassLoader pluginLoader = method.classLoader();
        assertThat(pluginLoader).isInstanceOf(PluginClassLoader.class);
        ClassLoader testLoader = Thread.currentThread().getContextClassLoader();
        assertThat(testLoader).isNotSameAs(pluginLoader);

        try (NDManager manager = NDManager.newBaseManager()) {
            NDManager modelManager = manager.newSubManager();
            PeftModel model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 5), modelManager, null));
            Adapter adapter = model.addAdapter(new AdapterSpec("recorded", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))), Composition.SUM),
                    method.method());
            assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(testLoader);

            try (PeftTrainer trainer = PeftTrainer.create(model, ResettableAdamW.builder().optLearningRate(0.01f).build(), Loss.l2Loss())) {
                try (NDManager batch = manager.newSubManager()) {
                    NDList inputs = new NDList(batch.create(new long[][] {{1, 5, 9, 2}, {3, 5, 8, 9}}));
                    NDList labels = new NDList(batch.ones(new Shape(2, 4, LlamaConfig.tiny().vocabularySize()), DataType.FLOAT32));
                    trainer.step(inputs, labels);
                }
            }
            assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(testLoader);
            model.merge(List.of("recorded"));
            model.unmerge(List.of("recorded"));

            @SuppressWarnings("unchecked")
            Map<String, ClassLoader> seen = (Map<String, ClassLoader>) adapter.instance().getClass().getMethod("contextClassLoaders").invoke(adapter.instance());
            assertThat(seen).containsOnlyKeys("create", "prepare", "attach", "module", "delta", "scaling", "merge", "unmerge", "event");
            assertThat(seen).allSatisfy((call, loader) -> assertThat(loader).as(call).isSameAs(pluginLoader));
            assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(testLoader);
        }
    }

    /**
     * A LoRA-shaped method (a trainable update, zero at first) that records, per call, the context class loader it ran with; a
     * call that finds another loader records that one, so the assertion names the call.
     */
    private static final String RECORDING_METHOD = String.join("\n",
            "package " + PACKAGE + ";",
            "",
            "import ai.djl.ndarray.NDArray;",
            "import ai.djl.ndarray.NDList;",
            "import ai.djl.ndarray.types.Shape;",
            "import ai.djl.nn.AbstractBlock;",
            "import ai.djl.nn.Parameter;",
            "import ai.djl.nn.core.Linear;",
            "import ai.djl.training.initializer.ConstantInitializer;",
            "import ai.djl.training.ParameterStore;",
            "import ai.djl.util.PairList;",
            "import com.google.auto.service.AutoService;",
            "import dev.graft.spi.AdditiveLinearModule;",
            "import dev.graft.spi.LinearSite;",
            "import dev.graft.spi.LinearWeights;",
            "import dev.graft.spi.MergeableLinearModule;",
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
            "import dev.graft.spi.TrainingContext;",
            "import dev.graft.spi.TrainingEvent;",
            "import java.util.EnumSet;",
            "import java.util.List;",
            "import java.util.Map;",
            "import java.util.concurrent.ConcurrentHashMap;",
            "",
            "@AutoService(PeftMethod.class)",
            "public final class RecordingMethod implements PeftMethod {",
            "    static void record(Map<String, ClassLoader> seen, String call) {",
            "        ClassLoader current = Thread.currentThread().getContextClassLoader();",
            "        ClassLoader own = RecordingMethod.class.getClassLoader();",
            "        if (current != own || !seen.containsKey(call)) {",
            "            seen.put(call, current);",
            "        }",
            "    }",
            "",
            "    @Override",
            "    public MethodDescriptor descriptor() {",
            "        return new MethodDescriptor(\"recording\", \"1.0.0\", SpiVersion.CURRENT, \"RECORDING\", EnumSet.of(SiteKind.LINEAR), Module.class,",
            "                OptionSchema.of(), Map.of(), \"records the thread context class loader of every call\");",
            "    }",
            "",
            "    @Override",
            "    public MethodInstance create(MethodOptions options, ModelContext model) {",
            "        Instance instance = new Instance();",
            "        record(instance.seen, \"create\");",
            "        return instance;",
            "    }",
            "",
            "    public static final class Instance implements MethodInstance {",
            "        final Map<String, ClassLoader> seen = new ConcurrentHashMap<>();",
            "",
            "        public Map<String, ClassLoader> contextClassLoaders() {",
            "            return Map.copyOf(seen);",
            "        }",
            "",
            "        @Override",
            "        public void prepare(List<Site> sites) {",
            "            record(seen, \"prepare\");",
            "        }",
            "",
            "        @Override",
            "        public MethodModule attach(Site site) {",
            "            record(seen, \"attach\");",
            "            return new Module((LinearSite) site, seen);",
            "        }",
            "",
            "        @Override",
            "        public long trainableParameterCount(List<Site> sites) {",
            "            return sites.stream().mapToLong(site -> (long) ((LinearSite) site).outFeatures() * ((LinearSite) site).inFeatures()).sum();",
            "        }",
            "",
            "        @Override",
            "        public void onEvent(TrainingEvent event, TrainingContext context) {",
            "            record(seen, \"event\");",
            "        }",
            "    }",
            "",
            "    static final class Module extends AbstractBlock implements AdditiveLinearModule, MergeableLinearModule {",
            "        private final LinearSite site;",
            "        private final Map<String, ClassLoader> seen;",
            "        private final Parameter update;",
            "",
            "        Module(LinearSite site, Map<String, ClassLoader> seen) {",
            "            super((byte) 1);",
            "            this.site = site;",
            "            this.seen = seen;",
            "            this.update = addParameter(Parameter.builder().setName(\"update\").setType(Parameter.Type.WEIGHT)",
            "                    .optShape(new Shape(site.outFeatures(), site.inFeatures())).optInitializer(new ConstantInitializer(0f)).build());",
            "            record(seen, \"module\");",
            "        }",
            "",
            "        @Override",
            "        public Site site() {",
            "            return site;",
            "        }",
            "",
            "        @Override",
            "        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {",
            "            record(seen, \"delta\");",
            "            return Linear.linear(x, parameterStore.getValue(update, x.getDevice(), training)).singletonOrThrow();",
            "        }",
            "",
            "        @Override",
            "        public float scaling() {",
            "            record(seen, \"scaling\");",
            "            return 1f;",
            "        }",
            "",
            "        @Override",
            "        public LinearWeights merge(LinearWeights weights) {",
            "            record(seen, \"merge\");",
            "            return weights;",
            "        }",
            "",
            "        @Override",
            "        public LinearWeights unmerge(LinearWeights weights) {",
            "            record(seen, \"unmerge\");",
            "            return weights;",
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
