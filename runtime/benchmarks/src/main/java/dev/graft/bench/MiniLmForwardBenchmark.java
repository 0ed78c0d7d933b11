package dev.graft.bench;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.MiniLm;
import dev.graft.runtime.model.TransformerModel;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One inference forward pass of all-MiniLM-L6-v2 ({@link MiniLm#load}: 6 layers, hidden 384) on a 16 × 128 batch
 * of seeded random token ids, no padding: the workload behind DESIGN.md's "Memory is speed" figure (0.31 s per
 * forward on the reference 2-core machine with every layer in its own memory scope). Each invocation's inputs and
 * outputs live in a sub-manager closed at its end, so nothing accumulates across invocations.
 *
 * <p>Not final: JMH generates subclasses of its state classes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g", "-Dai.djl.offline=true"})
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
public class MiniLmForwardBenchmark {
    private static final int BATCH = 16;
    private static final int SEQUENCE = 128;

    private NDManager manager;
    private LoadedModel loaded;
    private TransformerModel model;
    private long[][] tokenIds;
    private long[][] attentionMask;
    private long[][] tokenTypeIds;

    /** Loads the model and draws the batch once per trial. */
    @Setup(Level.Trial)
    public void load() {
        manager = NDManager.newBaseManager();
        loaded = MiniLm.load(manager);
        model = loaded.model();
        Random random = new Random(16);
        tokenIds = new long[BATCH][SEQUENCE];
        attentionMask = new long[BATCH][SEQUENCE];
        tokenTypeIds = new long[BATCH][SEQUENCE];
        for (int example = 0; example < BATCH; example++) {
            for (int position = 0; position < SEQUENCE; position++) {
                tokenIds[example][position] = position == 0 ? 101 : position == SEQUENCE - 1 ? 102 : 1000 + random.nextInt(29000);
                attentionMask[example][position] = 1;
            }
        }
    }

    /** One forward pass; returns a value of the output so that it is used. */
    @Benchmark
    public float forward() {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(tokenIds), batch.create(attentionMask), batch.create(tokenTypeIds));
            NDList outputs = model.forward(new ParameterStore(batch, false), inputs, false);
            return outputs.get(0).getFloat(0, 0, 0);
        }
    }

    /** Frees the tokenizer and the weights. */
    @TearDown(Level.Trial)
    public void close() {
        loaded.close();
        manager.close();
    }
}
