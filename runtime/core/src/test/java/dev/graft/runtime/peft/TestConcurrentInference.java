package dev.graft.runtime.peft;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.store.ShiftMethod;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * One loaded model serving inference from 8 threads at once: a tiny BERT with a summed and a gated adapter and a
 * classification head, asked for a few thousand requests (padded batches, per-row routing among them) gives every
 * caller exactly what a single-threaded run gives, and no NDArray stays behind in the model's manager.
 */
final class TestConcurrentInference {
    private static final int THREADS = 8;
    private static final int REQUESTS_PER_THREAD = Integer.getInteger("graft.concurrentRequests", 4000) / THREADS;
    private static final int KINDS = 16;

    @Test
    void testEightThreadsGetTheSingleThreadedOutputsAndLeaveNothingBehind() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            TaskModel task = task(manager);
            List<Request> requests = requests(new Random(11));
            List<float[]> expected = new ArrayList<>();
            for (Request request : requests) {
                expected.add(logits(task, manager, request));
            }
            int arraysBefore = manager.getManagedArrays().size();

            AtomicInteger served = new AtomicInteger();
            AtomicInteger different = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<?>> callers = new ArrayList<>();
                for (int thread = 0; thread < THREADS; thread++) {
                    Random random = new Random(100 + thread);
                    callers.add(pool.submit(() -> {
                        for (int request = 0; request < REQUESTS_PER_THREAD; request++) {
                            int kind = random.nextInt(KINDS);
                            if (!Arrays.equals(logits(task, manager, requests.get(kind)), expected.get(kind))) {
                                different.incrementAndGet();
                            }
                            served.incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (Future<?> caller : callers) {
                    caller.get(5, TimeUnit.MINUTES);
                }
            }
            finally {
                pool.shutdownNow();
            }
            System.out.printf("TestConcurrentInference: %d requests served by %d threads, %d different from the single-threaded output%n",
                    served.get(), THREADS, different.get());
            assertThat(served.get()).isEqualTo(THREADS * REQUESTS_PER_THREAD).isGreaterThanOrEqualTo(2000);
            assertThat(different.get()).as("requests whose output differs from the single-threaded run's").isZero();
            assertThat(manager.getManagedArrays()).as("NDArrays alive in the model's manager after the load").hasSize(arraysBefore);
        }
    }

    /** A batch of one to three rows with padding, run with both adapters active or routed row by row. */
    private record Request(long[][] ids, long[][] mask, List<String> routing) {}

    private static List<Request> requests(Random random) {
        List<Request> requests = new ArrayList<>();
        for (int kind = 0; kind < KINDS; kind++) {
            int rows = 1 + random.nextInt(3);
            int length = 3 + random.nextInt(6);
            long[][] ids = new long[rows][length];
            long[][] mask = new long[rows][length];
            List<String> routing = new ArrayList<>();
            for (int row = 0; row < rows; row++) {
                int real = 2 + random.nextInt(length - 1);
                for (int position = 0; position < real; position++) {
                    ids[row][position] = 1 + random.nextInt(20);
                    mask[row][position] = 1;
                }
                routing.add(List.of("summed", "gated").get(random.nextInt(2)));
            }
            requests.add(new Request(ids, mask, kind % 2 == 0 ? null : routing));
        }
        return requests;
    }

    private static float[] logits(TaskModel task, NDManager manager, Request request) {
        try (NDManager scope = manager.newSubManager()) {
            NDList inputs = task.inputs(scope, request.ids(), request.mask(), null);
            if (request.routing() == null) {
                return task.logits(new ParameterStore(scope, false), inputs, false).toFloatArray();
            }
            try (RowRouting ignored = task.model().route(request.routing())) {
                return task.logits(new ParameterStore(scope, false), inputs, false).toFloatArray();
            }
        }
    }

    private static TaskModel task(NDManager manager) {
        Engine.getInstance().setRandomSeed(7);
        BertConfig config = BertConfig.tiny();
        PeftModel model = new PeftModel(BertModel.create(config, BertWeights.random(config, manager, 3), manager, null));
        TargetRules targets = TargetRules.fromConfig(Map.of("target_modules", List.of("query", "value")));
        model.addAdapter(new AdapterSpec("summed", Map.of(), targets, Composition.SUM), new ShiftMethod());
        model.addAdapter(new AdapterSpec("gated", Map.of(), targets, Composition.GATED), new ShiftMethod());
        model.adapter("summed").trainableParameters().forEach(parameter -> parameter.getArray().addi(0.05f));
        model.adapter("gated").trainableParameters().forEach(parameter -> parameter.getArray().subi(0.03f));
        ClassificationHead head = new ClassificationHead(config.hiddenSize(), List.of("no", "yes"), Pooling.MEAN, 0f).initializeIn(manager);
        return TaskModel.classification(model, head);
    }
}
