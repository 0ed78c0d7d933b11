package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.TransformerModel;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.task.ClassificationHead;
import dev.graft.runtime.task.Pooling;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;

/**
 * The measurements of {@code graft bench}, all in one process on one model so that the ratios between rows are
 * honest on a noisy machine: the base forward (inference), the floor (forward and backward through every frozen
 * layer down to the embeddings, activation gradients only), a training step of each method through
 * {@link PeftTrainer} (forward, loss, backward, AdamW), full fine-tuning, and inference with each method unmerged
 * and merged. Methods come from the registry by id; a default row whose method is not installed is skipped with a
 * note.
 */
final class Bench {
    /** Every row key, in the order they run. */
    static final List<String> ROW_KEYS = List.of("base", "floor", "lora", "lora-all", "ia3", "vera", "bone", "prefix", "adapter", "prompt", "unipelt", "full");

    private static final float LEARNING_RATE = 1e-4f;

    private final MethodRegistry registry;
    private final TransformerModel base;
    private final NDManager manager;
    private final int batch;
    private final int length;
    private final int iterations;
    private final int warmup;
    private final List<String> notes = new ArrayList<>();
    private final List<BenchRow> rows = new ArrayList<>();
    private boolean peakPerRow = true;
    private Optional<Path> profileDirectory = Optional.empty();
    private int memorySteps;
    private Optional<MemoryRun> memoryRun = Optional.empty();

    Bench(MethodRegistry registry, TransformerModel base, NDManager manager, int batch, int length, int iterations, int warmup) {
        this.registry = requireNonNull(registry, "registry is null");
        this.base = requireNonNull(base, "base is null");
        this.manager = requireNonNull(manager, "manager is null");
        if (batch <= 0 || length <= 1 || iterations <= 0 || warmup < 0) {
            throw new IllegalArgumentException(format("--batch (%d) and --iterations (%d) must be positive, --length (%d) at least 2 and --warmup (%d) not negative",
                    batch, iterations, length, warmup));
        }
        this.batch = batch;
        this.length = length;
        this.iterations = iterations;
        this.warmup = warmup;
    }

    /**
     * Records PyTorch's operator profile of each training row's measured iterations (and the floor's) as a Chrome
     * trace, {@code <directory>/<row>.json}, readable in {@code chrome://tracing} or Perfetto.
     */
    void profileInto(Path directory) {
        this.profileDirectory = Optional.of(requireNonNull(directory, "directory is null"));
    }

    /**
     * Also trains the first method row (LoRA r=8 q,v) for {@code steps} steps and reads the process's resident set
     * after the warm-up (the first third of the steps) and at the end: native memory must stay flat.
     */
    void measureMemoryOver(int steps) {
        if (steps < 3) {
            throw new IllegalArgumentException(format("--memory-steps must be at least 3 (a third of them warm up), got %d", steps));
        }
        this.memorySteps = steps;
    }

    /**
     * The resident set ({@code VmRSS}) over a long training run, read after every step from the end of the warm-up;
     * the two ends are medians over a window of steps, since the allocator's resident set moves by tens of MiB from
     * one step to the next.
     *
     * @param name the row trained
     * @param steps the steps trained
     * @param warmUpSteps the steps before the first reading
     * @param window the steps whose median is each end
     * @param afterWarmUp bytes resident after the warm-up (the median of the first {@code window} readings)
     * @param atEnd bytes resident at the end (the median of the last {@code window} readings)
     * @param highest the most bytes resident after any step past the warm-up
     */
    record MemoryRun(String name, int steps, int warmUpSteps, int window, long afterWarmUp, long atEnd, long highest) {
        /** The growth from the warm-up to the end, as a fraction of the resident set after the warm-up. */
        double growth() {
            return (atEnd - afterWarmUp) / (double) afterWarmUp;
        }
    }

    Optional<MemoryRun> memoryRun() {
        return memoryRun;
    }

    /** A method row: adapters of methods from the registry, attached together. */
    private record Setup(String key, String name, List<Attach> attachments) {}

    /** One adapter of a setup: the method id, its options, its targets (empty: the method's defaults) and the composition. */
    private record Attach(String methodId, Map<String, Object> options, Map<String, Object> targets, Composition composition) {}

    private static List<Setup> setups() {
        Attach loraQueryValue = new Attach("lora", Map.of("r", 8, "lora_alpha", 16), Map.of(), Composition.SUM);
        return List.of(
                new Setup("lora", "LoRA r=8 q,v", List.of(loraQueryValue)),
                new Setup("lora-all", "LoRA r=8 all-linear", List.of(new Attach("lora", Map.of("r", 8, "lora_alpha", 16), Map.of("target_modules", "all-linear"), Composition.SUM))),
                new Setup("ia3", "IA3 (default targets)", List.of(new Attach("ia3", Map.of(), Map.of(), Composition.SUM))),
                new Setup("vera", "VeRA r=256 q,v", List.of(new Attach("vera", Map.of("r", 256), Map.of(), Composition.SUM))),
                new Setup("bone", "Bone r=64 q,v", List.of(new Attach("bone", Map.of("r", 64), Map.of(), Composition.SUM))),
                new Setup("prefix", "prefix 20 tokens", List.of(new Attach("prefix", Map.of("num_virtual_tokens", 20), Map.of(), Composition.SUM))),
                new Setup("adapter", "bottleneck adapter (default)", List.of(new Attach("adapter", Map.of(), Map.of(), Composition.SUM))),
                new Setup("prompt", "prompt tuning 20 tokens", List.of(new Attach("prompt", Map.of("num_virtual_tokens", 20), Map.of(), Composition.SUM))),
                new Setup("unipelt", "UniPELT (gated LoRA r=8 q,v + prefix 20 + adapter)", List.of(
                        new Attach("lora", Map.of("r", 8, "lora_alpha", 16), Map.of(), Composition.GATED),
                        new Attach("prefix", Map.of("num_virtual_tokens", 20), Map.of(), Composition.GATED),
                        new Attach("adapter", Map.of(), Map.of(), Composition.GATED))));
    }

    /** Runs the rows in {@code keys} (in {@link #ROW_KEYS} order); {@code explicit}: a missing method fails instead of being skipped. */
    void run(Set<String> keys, boolean explicit) {
        PeftModel model = new PeftModel(base);
        TaskModel task = taskModel(model);
        Random random = new Random(12);
        long[][] ids = tokenIds(random);
        long[][] mask = new long[batch][length];
        for (long[] row : mask) {
            java.util.Arrays.fill(row, 1);
        }
        try (NDManager data = manager.newSubManager()) {
            NDList inputs = task.inputs(data, ids, mask, null);
            NDList labels = new NDList(task.type() == dev.graft.runtime.task.TaskType.CAUSAL_LM ? data.create(ids) : data.create(classLabels(random)));
            if (keys.contains("base")) {
                measureForward("base forward (no adapter)", model, inputs, OptionalDouble.of(forwardFlops()));
            }
            if (keys.contains("floor")) {
                measureFloor(task, inputs, labels);
            }
            for (Setup setup : setups()) {
                if (!keys.contains(setup.key())) {
                    continue;
                }
                Optional<String> missing = setup.attachments().stream().map(Attach::methodId).filter(id -> registry.method(id).isEmpty()).findFirst();
                if (missing.isPresent()) {
                    if (explicit) {
                        throw new IllegalArgumentException(format("row '%s' needs method '%s', which is not installed; installed: %s", setup.key(), missing.get(), registry.ids()));
                    }
                    notes.add(format("%s skipped: method '%s' is not installed", setup.name(), missing.get()));
                    continue;
                }
                measureSetup(setup, model, task, inputs, labels);
            }
            if (memorySteps > 0) {
                measureMemory(setups().get(0), model, task, inputs, labels);
            }
            if (keys.contains("full")) {
                measureFullFineTuning(model, task, inputs, labels);
            }
        }
    }

    List<BenchRow> rows() {
        return List.copyOf(rows);
    }

    List<String> notes() {
        return List.copyOf(notes);
    }

    private TaskModel taskModel(PeftModel model) {
        if ("llama".equals(base.modelType())) {
            notes.add("task: causal LM over every position (the model's own lm_head), labels = the input ids");
            return TaskModel.causalLm(model);
        }
        boolean pooler = base instanceof BertModel bert && bert.config().addPoolingLayer();
        ClassificationHead head = new ClassificationHead(base.context().hiddenSize(), List.of("0", "1"), Pooling.resolve("mean", pooler), 0.1f).initializeIn(manager);
        notes.add("task: 2-class sequence classification, mean pooling, classifier dropout 0.1 (the head is trained in every training row, as PEFT's modules_to_save)");
        return TaskModel.classification(model, head);
    }

    private long[][] tokenIds(Random random) {
        long vocabulary = base.context().vocabularySize();
        long low = Math.min(1000, vocabulary / 2);
        long[][] ids = new long[batch][length];
        for (long[] row : ids) {
            for (int position = 0; position < length; position++) {
                row[position] = low + (long) (random.nextDouble() * (vocabulary - low));
            }
        }
        return ids;
    }

    private long[] classLabels(Random random) {
        long[] labels = new long[batch];
        for (int index = 0; index < batch; index++) {
            labels[index] = random.nextInt(2);
        }
        return labels;
    }

    /** The multiply-adds of the forward's matrix products, counted analytically, times 2. */
    double forwardFlops() {
        double tokens = (double) batch * length;
        if (base instanceof BertModel bert) {
            BertConfig config = bert.config();
            double hidden = config.hiddenSize();
            double perLayer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * config.intermediateSize()) + 4 * tokens * length * hidden;
            double pooler = config.addPoolingLayer() ? 2 * batch * hidden * hidden : 0;
            return config.numLayers() * perLayer + pooler;
        }
        if (base instanceof LlamaForCausalLM llama) {
            LlamaConfig config = llama.config();
            double hidden = config.hiddenSize();
            double attention = (double) config.numAttentionHeads() * config.headDim();
            double keyValue = (double) config.numKeyValueHeads() * config.headDim();
            double perLayer = 2 * tokens * (hidden * attention + 2 * hidden * keyValue + attention * hidden + 3 * hidden * config.intermediateSize())
                    + 4 * tokens * length * attention;
            return config.numLayers() * perLayer + 2 * tokens * hidden * config.vocabularySize();
        }
        return Double.NaN;
    }

    private void measureForward(String name, PeftModel model, NDList inputs, OptionalDouble flops) {
        resetPeak();
        List<Double> times = new ArrayList<>();
        for (int iteration = 0; iteration < warmup + iterations; iteration++) {
            long start = System.nanoTime();
            try (NDManager scope = manager.newSubManager()) {
                scope.tempAttachAll(inputs);
                NDList outputs = model.forward(new ParameterStore(scope, false), inputs, false);
                outputs.get(0).getShape();
            }
            long elapsed = System.nanoTime() - start;
            if (iteration >= warmup) {
                times.add(elapsed / 1e6);
            }
        }
        BenchRow row = new BenchRow("inference", name, times, (long) batch * length, 0, 0, peak(), OptionalDouble.empty());
        if (flops.isPresent() && !Double.isNaN(flops.getAsDouble())) {
            row = new BenchRow(row.section(), row.name(), row.millis(), row.tokens(), 0, 0, row.peakResident(), OptionalDouble.of(flops.getAsDouble() / (row.median() / 1000) / 1e9));
        }
        rows.add(row);
    }

    /**
     * The floor: the training forward (dropout of the head on), the loss and backward with only an activation
     * gradient: the embedding table that every position adds in (BERT's position embeddings, a Llama's token
     * embeddings) requires a gradient so backward runs through every layer; the head is frozen for the row.
     */
    private void measureFloor(TaskModel task, NDList inputs, NDList labels) {
        Map<String, NDArray> state = base.stateDict();
        String sinkKey = state.keySet().stream().filter(key -> key.endsWith("position_embeddings.weight")).findFirst()
                .or(() -> state.keySet().stream().filter(key -> key.endsWith("embed_tokens.weight") || key.endsWith("word_embeddings.weight")).findFirst())
                .orElseThrow(() -> new IllegalStateException(format("no embedding table to take the floor's gradient among %s", state.keySet())));
        notes.add(format("floor: backward runs down to the embeddings through a gradient on %s (nothing is updated)", sinkKey));
        NDArray sink = state.get(sinkKey);
        List<Parameter> head = task.headParameters();
        head.forEach(parameter -> parameter.getArray().setRequiresGradient(false));
        sink.setRequiresGradient(true);
        resetPeak();
        List<Double> times = new ArrayList<>();
        try {
            for (int iteration = 0; iteration < warmup + iterations; iteration++) {
                startProfile(iteration);
                long start = System.nanoTime();
                try (NDManager scope = manager.newSubManager();
                        GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    scope.tempAttachAll(inputs);
                    scope.tempAttachAll(labels);
                    NDArray loss = task.meanLoss(new ParameterStore(scope, false), inputs, labels, true);
                    loss.getFloat();
                    collector.backward(loss);
                }
                long elapsed = System.nanoTime() - start;
                if (iteration >= warmup) {
                    times.add(elapsed / 1e6);
                }
            }
            stopProfile("floor");
        }
        finally {
            sink.setRequiresGradient(false);
            head.forEach(parameter -> parameter.getArray().setRequiresGradient(true));
        }
        rows.add(new BenchRow("training", "floor (forward + backward, activation gradients only)", times, (long) batch * length, 0, 0, peak(), OptionalDouble.empty()));
    }

    /** Attaches the adapters of {@code setup}; returns their names. */
    private List<String> attach(Setup setup, PeftModel model) {
        List<String> names = new ArrayList<>();
        for (Attach attach : setup.attachments()) {
            LoadedMethod method = registry.requireMethod(attach.methodId());
            String name = "bench_" + setup.key().replace('-', '_') + "_" + names.size();
            model.addAdapter(new AdapterSpec(name, attach.options(), TargetRules.fromConfig(attach.targets()), attach.composition()), method.method());
            names.add(name);
        }
        return names;
    }

    private boolean mergeable(Setup setup) {
        return setup.attachments().stream().allMatch(attach -> registry.requireMethod(attach.methodId()).descriptor().mergeable() && attach.composition() == Composition.SUM);
    }

    private void measureMemory(Setup setup, PeftModel model, TaskModel task, NDList inputs, NDList labels) {
        List<String> names = attach(setup, model);
        ResettableAdamW optimizer = ResettableAdamW.builder().optLearningRate(LEARNING_RATE).build();
        List<Parameter> head = task.headParameters();
        try (PeftTrainer trainer = PeftTrainer.create(model, optimizer, task::meanLoss, head)) {
            int warmUp = memorySteps / 3;
            List<Long> readings = new ArrayList<>();
            for (int step = 1; step <= memorySteps; step++) {
                trainer.step(inputs, labels);
                if (step >= warmUp) {
                    ProcessMemory.resident().ifPresent(readings::add);
                }
            }
            if (readings.isEmpty()) {
                notes.add("memory run: /proc/self/status has no VmRSS here, so the resident set cannot be read");
            }
            else {
                int window = Math.max(1, readings.size() / 10);
                long highest = readings.stream().mapToLong(Long::longValue).max().orElseThrow();
                memoryRun = Optional.of(new MemoryRun(setup.name(), memorySteps, warmUp, window, median(readings.subList(0, window)),
                        median(readings.subList(readings.size() - window, readings.size())), highest));
            }
            forgetOptimizerState(trainer, optimizer);
        }
        finally {
            names.forEach(model::deleteAdapter);
        }
    }

    private void measureSetup(Setup setup, PeftModel model, TaskModel task, NDList inputs, NDList labels) {
        List<String> names = attach(setup, model);
        boolean mergeable = mergeable(setup);
        try {
            measureForward(setup.name() + ", unmerged", model, inputs, OptionalDouble.empty());
            if (mergeable) {
                model.merge(names);
                try {
                    measureForward(setup.name() + ", merged", model, inputs, OptionalDouble.empty());
                }
                finally {
                    model.unmerge(names);
                }
            }
            measureTraining(setup.key(), setup.name(), model, task, inputs, labels, List.of());
        }
        finally {
            names.forEach(model::deleteAdapter);
        }
    }

    private void measureFullFineTuning(PeftModel model, TaskModel task, NDList inputs, NDList labels) {
        Map<Parameter, Boolean> seen = new IdentityHashMap<>();
        List<Parameter> weights = new ArrayList<>();
        for (Parameter parameter : base.getParameters().values()) {
            if (parameter.isInitialized() && seen.put(parameter, Boolean.TRUE) == null) {
                weights.add(parameter);
            }
        }
        notes.add("full fine-tuning runs last: it changes the base weights");
        weights.forEach(parameter -> parameter.freeze(false));
        try {
            measureTraining("full", "full fine-tuning (every base weight + head)", model, task, inputs, labels, weights);
        }
        finally {
            weights.forEach(parameter -> parameter.freeze(true));
        }
    }

    private void measureTraining(String key, String name, PeftModel model, TaskModel task, NDList inputs, NDList labels, List<Parameter> extra) {
        List<Parameter> extraParameters = new ArrayList<>(task.headParameters());
        extraParameters.addAll(extra);
        ResettableAdamW optimizer = ResettableAdamW.builder().optLearningRate(LEARNING_RATE).build();
        PeftTrainer trainer = PeftTrainer.create(model, optimizer, task::meanLoss, extraParameters);
        resetPeak();
        List<Double> times = new ArrayList<>();
        for (int iteration = 0; iteration < warmup + iterations; iteration++) {
            startProfile(iteration);
            long start = System.nanoTime();
            trainer.step(inputs, labels);
            long elapsed = System.nanoTime() - start;
            if (iteration >= warmup) {
                times.add(elapsed / 1e6);
            }
        }
        stopProfile(key);
        long trainable = 0;
        long stateBytes = 0;
        for (Parameter parameter : trainer.namedTrainableParameters().values()) {
            trainable += parameter.getArray().size();
            Optional<ResettableAdamW.State> state = optimizer.state(parameter.getId());
            if (state.isPresent()) {
                stateBytes += bytes(state.get().mean()) + bytes(state.get().variance());
            }
        }
        OptionalLong peak = peak();
        forgetOptimizerState(trainer, optimizer);
        trainer.close();
        rows.add(new BenchRow("training", name, times, (long) batch * length, trainable, stateBytes, peak, OptionalDouble.empty()));
    }

    /** Frees the AdamW moments of a row's parameters (the head's are trained again by the next row). */
    private static void forgetOptimizerState(PeftTrainer trainer, ResettableAdamW optimizer) {
        for (Parameter parameter : trainer.namedTrainableParameters().values()) {
            optimizer.reset(parameter.getId());
        }
    }

    private void startProfile(int iteration) {
        if (profileDirectory.isPresent() && iteration == warmup) {
            JniUtils.startProfile(false, true, false);
        }
    }

    private void stopProfile(String key) {
        if (profileDirectory.isPresent()) {
            Path trace = profileDirectory.get().resolve(key + ".json");
            JniUtils.stopProfile(trace.toString());
            notes.add(format("profile of %s's measured iterations: %s", key, trace));
        }
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        java.util.Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    private static long bytes(NDArray array) {
        return array.size() * array.getDataType().getNumOfBytes();
    }

    private void resetPeak() {
        if (peakPerRow && !ProcessMemory.resetPeak()) {
            peakPerRow = false;
            notes.add("peak memory: /proc/self/clear_refs refused a reset, so each row's peak is the process's peak so far");
        }
    }

    private static OptionalLong peak() {
        return ProcessMemory.peakResident();
    }

    /** Whether the peak memory column is per row (the kernel reset the peak before each row). */
    boolean peakPerRow() {
        return peakPerRow;
    }
}
