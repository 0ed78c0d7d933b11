package dev.graft.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.targeting.TargetRules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Per-row adapter routing against sub-batches: a random Llama (hidden 256, 4 layers, vocabulary 2,000) with four
 * adapters of the real plugins (LoRA r 8 on q/v, IA³, a Pfeiffer bottleneck adapter, prefix tuning with 8 tokens),
 * {@code rowsPerAdapter} rows of 64 tokens each. {@code mixed}: one forward routing every row to its adapter;
 * {@code subBatches}: four forwards, one per adapter, each with only that adapter active. The plugins are read from
 * {@code -Dgraft.plugins} (default {@code runtime/distribution/target/graft/plugins}, built by {@code mvn verify}).
 *
 * <p>Not final: JMH generates subclasses of its state classes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dai.djl.offline=true"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class RoutedBatchBenchmark {
    private static final List<String> ADAPTERS = List.of("my-lora", "my-ia3", "my-adapter", "my-prefix");
    private static final int SEQUENCE = 64;

    @Param({"4", "16"})
    public int rowsPerAdapter;

    private NDManager manager;
    private PeftModel model;
    private long[][] tokenIds;
    private List<String> rows;

    /** Builds the model and its adapters, and draws the batch, once per trial. */
    @Setup(Level.Trial)
    public void build() {
        Path plugins = Path.of(System.getProperty("graft.plugins", "runtime/distribution/target/graft/plugins")).toAbsolutePath();
        MethodRegistry registry = MethodRegistryLoader.load(ClassLoader.getPlatformClassLoader(), List.of(plugins));
        manager = NDManager.newBaseManager();
        LlamaConfig config = new LlamaConfig(2000, 256, 688, 4, 8, 4, 32, 1e-6, 10000.0, false, false, false);
        model = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 7), manager, null));
        add(registry, "my-lora", "lora", Map.of("r", 8), Map.of("target_modules", List.of("q_proj", "v_proj")));
        add(registry, "my-ia3", "ia3", Map.of(), Map.of());
        add(registry, "my-adapter", "adapter", Map.of("config", "pfeiffer"), Map.of());
        add(registry, "my-prefix", "prefix", Map.of("num_virtual_tokens", 8), Map.of());
        for (String name : ADAPTERS) {
            for (Parameter parameter : model.adapter(name).trainableParameters()) {
                NDArray array = parameter.getArray();
                array.addi(array.getManager().randomNormal(0f, 0.1f, array.getShape(), array.getDataType()));
            }
        }
        Random random = new Random(3);
        tokenIds = new long[ADAPTERS.size() * rowsPerAdapter][SEQUENCE];
        rows = new ArrayList<>();
        for (int row = 0; row < tokenIds.length; row++) {
            for (int position = 0; position < SEQUENCE; position++) {
                tokenIds[row][position] = random.nextInt(2000);
            }
            rows.add(ADAPTERS.get(row % ADAPTERS.size()));
        }
    }

    private void add(MethodRegistry registry, String name, String id, Map<String, Object> options, Map<String, Object> targets) {
        model.addAdapter(new AdapterSpec(name, options, TargetRules.fromConfig(targets), Composition.SUM), registry.requireMethod(id).method());
    }

    /** One routed forward over every row. */
    @Benchmark
    public float mixed() {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(tokenIds)), rows).singletonOrThrow().getFloat(0, 0, 0);
        }
    }

    /** Four forwards, one per adapter's rows, each with only that adapter active. */
    @Benchmark
    public float subBatches() {
        float sum = 0;
        for (int adapter = 0; adapter < ADAPTERS.size(); adapter++) {
            long[][] own = new long[rowsPerAdapter][];
            for (int row = 0; row < rowsPerAdapter; row++) {
                own[row] = tokenIds[row * ADAPTERS.size() + adapter];
            }
            model.setActiveAdapters(List.of(ADAPTERS.get(adapter)));
            try (NDManager batch = manager.newSubManager()) {
                sum += model.forward(new ParameterStore(batch, false), new NDList(batch.create(own)), false).singletonOrThrow().getFloat(0, 0, 0);
            }
        }
        return sum;
    }

    /** Frees the model. */
    @TearDown(Level.Trial)
    public void close() {
        manager.close();
    }
}
