package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.data.BatchLoader;
import dev.graft.runtime.data.DataSplit;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.PaddedBatch;
import dev.graft.runtime.error.IoErrors;
import dev.graft.runtime.io.AtomicFiles;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.recipe.RecipeWriter;
import dev.graft.runtime.recipe.TrainingSection;
import dev.graft.runtime.report.MetricsLog;
import dev.graft.runtime.report.MetricsRecord;
import dev.graft.runtime.report.RunMetrics;
import dev.graft.runtime.report.TrainingProgress;
import dev.graft.runtime.store.FusionStore;
import dev.graft.runtime.store.TaskAdapters;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Runs a recipe's training: AdamW with decoupled weight decay over the adapters' and the head's parameters (only
 * those get optimizer state), a linear, cosine or constant schedule with warm-up, gradient clipping by global norm,
 * gradient accumulation, evaluation every {@code eval_every} steps or at each epoch's end, early stopping, keeping
 * the best adapter, and atomic checkpoints from which {@link #resume} continues a stopped run exactly.
 *
 * <p>Deterministic on CPU for a seed: the data order of epoch {@code e} is {@link DataSplit#epochOrder}, and before
 * every optimizer step PyTorch's generator is seeded from the seed and the step number, so dropout and a method's
 * re-initialisation (PeriodicLoRA) draw the same numbers in a resumed run as in an uninterrupted one.
 *
 * <p>A NaN or infinite loss or gradient norm stops the run with {@link TrainingDivergedException}, naming the step,
 * the last good checkpoint and what to change.
 */
public final class FineTuner {
    private static final int PREFETCH = 4;

    /**
     * How the run talks to the user.
     *
     * @param console where the parameter table, the progress bar and messages go
     * @param terminal whether {@code console} is a terminal (an animated bar) or a log (plain lines)
     * @param baselines results of other runs to show beside this one's in the report
     * @param exchange what a data-parallel run does around each optimizer step ({@link StepExchange#NONE} on one machine)
     */
    public record Options(PrintStream console, boolean terminal, List<RunMetrics> baselines, StepExchange exchange) {
        public Options {
            requireNonNull(console, "console is null");
            baselines = List.copyOf(baselines);
            requireNonNull(exchange, "exchange is null");
        }

        /** Options of a run on one machine. */
        public Options(PrintStream console, boolean terminal, List<RunMetrics> baselines) {
            this(console, terminal, baselines, StepExchange.NONE);
        }

        /** Options of a run on one machine, without baselines. */
        public Options(PrintStream console, boolean terminal) {
            this(console, terminal, List.of());
        }
    }

    private final RunSetup setup;
    private final RunFolder folder;
    private final Options options;
    private final TaskModel task;
    private final PeftModel model;
    private final TrainingSection training;
    private final ResettableAdamW optimizer;
    private final PeftTrainer trainer;
    private final LearningRateSchedule schedule;
    private final Evaluator evaluator;
    private final String bestMetric;
    private final boolean higherIsBetter;
    private final int batchesPerEpoch;
    private final long stepsPerEpoch;
    private final long totalSteps;

    private TrainerState state = TrainerState.start();
    private Evaluation bestEvaluation;
    private MetricsLog log;
    private TrainingProgress progress;
    /** The trainer's wait for batches in this process (not kept across a resume), all of it and since the last log line. */
    private long dataWaitNanos;
    private long dataWaitSinceLog;
    private long stepsThisRun;

    private FineTuner(RunSetup setup, RunFolder folder, Options options) {
        this.setup = requireNonNull(setup, "setup is null");
        this.folder = requireNonNull(folder, "folder is null");
        this.options = requireNonNull(options, "options is null");
        this.task = setup.task();
        this.model = task.model();
        this.training = setup.recipe().training();
        this.optimizer = ResettableAdamW.builder()
                .optLearningRate((float) training.learningRate())
                .optBetas((float) training.adamBeta1(), (float) training.adamBeta2())
                .optEpsilon((float) training.adamEpsilon())
                .optWeightDecays((float) training.weightDecay())
                .build();
        this.trainer = PeftTrainer.create(model, optimizer, task::meanLoss, task.headParameters());
        if (trainer.namedTrainableParameters().isEmpty()) {
            throw new IllegalArgumentException("nothing to train: the recipe's adapters have no trainable parameters and the task has no head");
        }
        this.batchesPerEpoch = BatchLoader.batchCount(setup.train().size(), training.batchSize());
        this.stepsPerEpoch = (batchesPerEpoch + training.gradientAccumulationSteps() - 1) / training.gradientAccumulationSteps();
        this.totalSteps = training.maxSteps() > 0 ? training.maxSteps() : training.epochs() * stepsPerEpoch;
        this.schedule = new LearningRateSchedule(LearningRateSchedule.Kind.of(training.lrScheduler()), training.learningRate(),
                LearningRateSchedule.warmupSteps(training.warmupSteps(), training.warmupRatio(), totalSteps), totalSteps);
        this.evaluator = new Evaluator(task, setup.encoder(), setup.tokenizer().padTokenId(), training.evalBatchSize());
        this.bestMetric = resolveBestMetric(training.metricForBest(), task.type());
        this.higherIsBetter = bestMetric.equals("accuracy") || bestMetric.equals("macro_f1");
    }

    /** The metric that picks the best adapter: {@code auto} is macro-F1 for classification and the loss for a causal LM. */
    static String resolveBestMetric(String metricForBest, TaskType type) {
        String metric = metricForBest.equals("auto") ? (type == TaskType.SEQUENCE_CLASSIFICATION ? "macro_f1" : "loss") : metricForBest;
        List<String> available = type == TaskType.SEQUENCE_CLASSIFICATION ? List.of("loss", "accuracy", "macro_f1") : List.of("loss", "perplexity");
        if (!available.contains(metric)) {
            throw new IllegalArgumentException(format("training.metric_for_best '%s' is not computed for %s; use auto or one of %s", metric, type.recipeName(), available));
        }
        return metric;
    }

    /**
     * Trains a new run into {@code folder} (prepared and empty): writes the resolved recipe first, then trains.
     */
    public static RunResult train(RunSetup setup, RunFolder folder, Options options) {
        FineTuner tuner = new FineTuner(setup, folder, options);
        RecipeWriter.write(folder.resolve(RunFolder.RECIPE), setup.recipe());
        tuner.log = MetricsLog.create(folder.resolve(RunFolder.METRICS));
        return tuner.run();
    }

    /**
     * Continues the run in {@code folder} from its newest checkpoint; {@code setup} must come from the run's own
     * {@code recipe.yaml}. A run without a checkpoint starts over.
     */
    public static RunResult resume(RunSetup setup, RunFolder folder, Options options) {
        FineTuner tuner = new FineTuner(setup, folder, options);
        Optional<Path> checkpoint = folder.latestCheckpoint();
        if (checkpoint.isEmpty()) {
            options.console().println(format("no checkpoint in %s yet: starting the run from the beginning", folder.root()));
            tuner.log = MetricsLog.create(folder.resolve(RunFolder.METRICS));
            return tuner.run();
        }
        tuner.state = TrainingCheckpoint.restore(checkpoint.get().resolve(RunFolder.STATE), tuner.trainer, tuner.optimizer, tuner.model);
        tuner.log = MetricsLog.resume(folder.resolve(RunFolder.METRICS), tuner.state.step());
        tuner.bestEvaluation = tuner.recordedBest().orElse(null);
        options.console().println(format("resuming %s from %s (step %d of %d)", folder.root(), folder.root().relativize(checkpoint.get()), tuner.state.step(), tuner.totalSteps));
        return tuner.run();
    }

    private RunResult run() {
        long started = System.nanoTime();
        PrintStream console = options.console();
        RunReport.parameterTable(task).forEach(console::println);
        console.println(format(Locale.ROOT, "%d training examples, %d validation; %d steps (%d per epoch, batch %d × %d accumulated), learning rate %s, %s schedule",
                setup.train().size(), setup.validation().size(), totalSteps, stepsPerEpoch, training.batchSize(), training.gradientAccumulationSteps(),
                training.learningRate(), training.lrScheduler()));
        try {
            progress = TrainingProgress.start(console, task.type().recipeName(), totalSteps, state.step(), options.terminal());
            try {
                loop();
            }
            finally {
                progress.close();
            }
            finish();
        }
        finally {
            log.close();
        }
        double wall = (System.nanoTime() - started) / 1e9;
        double tokensPerSecond = state.trainingSeconds() > 0 ? state.tokens() / state.trainingSeconds() : 0;
        double dataWaitMillis = stepsThisRun > 0 ? dataWaitNanos / 1e6 / stepsThisRun : 0;
        RunResult result = new RunResult(folder.root(), Optional.ofNullable(bestEvaluation), state.step(), tokensPerSecond, state.trainingSeconds(), wall, dataWaitMillis);
        RunReport.write(setup, folder, result, options.baselines());
        return result;
    }

    private void loop() {
        int epoch = state.epoch();
        int firstBatch = state.batchInEpoch();
        int accumulation = training.gradientAccumulationSteps();
        while (trainer.steps() < totalSteps && !stoppedEarly()) {
            int[] order = DataSplit.epochOrder(setup.train().size(), training.seed(), epoch);
            int batch = firstBatch;
            double lossSinceLog = 0;
            int stepsSinceLog = 0;
            boolean stop = false;
            try (BatchLoader loader = BatchLoader.start(setup.train(), order, training.batchSize(), firstBatch, setup.encoder(), setup.tokenizer().padTokenId(), PREFETCH)) {
                double stepLoss = 0;
                long stepStarted = 0;
                long stepTokens = 0;
                while (!stop) {
                    // the time the trainer waits for the data pipeline (tokenizing and padding run ahead on their own thread)
                    long waitStarted = System.nanoTime();
                    if (!loader.hasNext()) {
                        break;
                    }
                    PaddedBatch padded = loader.next();
                    long waited = System.nanoTime() - waitStarted;
                    dataWaitNanos += waited;
                    dataWaitSinceLog += waited;
                    int groupStart = (batch / accumulation) * accumulation;
                    int groupSize = Math.min(accumulation, batchesPerEpoch - groupStart);
                    if (batch == groupStart) {
                        Engine.getInstance().setRandomSeed(stepSeed(training.seed(), trainer.steps()));
                        stepStarted = System.nanoTime();
                        stepLoss = 0;
                        stepTokens = 0;
                    }
                    float loss = accumulate(padded, 1f / groupSize);
                    stepLoss += loss / groupSize;
                    stepTokens += padded.tokens();
                    batch++;
                    if (batch - groupStart < groupSize) {
                        continue;
                    }
                    options.exchange().beforeUpdate(trainer, trainer.steps() + 1);
                    double norm = training.maxGradNorm() > 0 ? trainer.clipGradients(training.maxGradNorm()) : trainer.gradientNorm();
                    if (!Double.isFinite(norm)) {
                        throw diverged(trainer.steps() + 1, "gradient norm", norm);
                    }
                    double rate = schedule.rate(trainer.steps());
                    optimizer.setLearningRate((float) rate);
                    trainer.update();
                    options.exchange().afterUpdate(trainer, trainer.steps());
                    double seconds = (System.nanoTime() - stepStarted) / 1e9;
                    state = advance(state, epoch, batch, stepTokens, seconds);
                    stepsThisRun++;
                    long step = trainer.steps();
                    double epochs = (double) step / stepsPerEpoch;
                    double tokensPerSecond = state.tokens() / Math.max(1e-9, state.trainingSeconds());
                    progress.update(step, epochs, stepLoss, rate, tokensPerSecond);
                    lossSinceLog += stepLoss;
                    stepsSinceLog++;
                    if (step % training.logEvery() == 0 || step == totalSteps) {
                        Map<String, Double> values = new LinkedHashMap<>();
                        values.put("loss", lossSinceLog / stepsSinceLog);
                        values.put("learning_rate", rate);
                        values.put("grad_norm", norm);
                        values.put("tokens_per_second", tokensPerSecond);
                        values.put("data_wait_ms", dataWaitSinceLog / 1e6 / stepsSinceLog);
                        log.append(new MetricsRecord(step, epochs, "train", values, Map.of()));
                        lossSinceLog = 0;
                        stepsSinceLog = 0;
                        dataWaitSinceLog = 0;
                    }
                    boolean endOfEpoch = batch == batchesPerEpoch;
                    boolean evaluated = false;
                    if (training.evalEvery() > 0 && (step % training.evalEvery() == 0 || step == totalSteps) && !endOfEpoch) {
                        evaluated = true;
                        stop = evaluate();
                    }
                    if (!endOfEpoch && (training.checkpointEvery() > 0 ? step % training.checkpointEvery() == 0 : evaluated)) {
                        checkpoint();
                    }
                    if (step >= totalSteps) {
                        stop = true;
                    }
                }
            }
            if (batch == batchesPerEpoch) {
                trainer.endEpoch();
                epoch++;
                firstBatch = 0;
                state = at(state, epoch, 0);
                boolean evaluated = false;
                if (training.evalEvery() == 0 || trainer.steps() % training.evalEvery() == 0 || trainer.steps() >= totalSteps) {
                    evaluated = true;
                    stop = evaluate() || stop;
                }
                if (training.checkpointEvery() > 0 ? trainer.steps() % training.checkpointEvery() == 0 || trainer.steps() >= totalSteps : evaluated) {
                    checkpoint();
                }
            }
            else {
                firstBatch = batch;
            }
            if (stop) {
                break;
            }
        }
    }

    /** Whether early stopping ended the run (a resumed run that had stopped early stays stopped). */
    private boolean stoppedEarly() {
        return training.earlyStoppingPatience() > 0 && state.evaluationsWithoutImprovement() >= training.earlyStoppingPatience();
    }

    private float accumulate(PaddedBatch padded, float weight) {
        try (NDManager scope = setup.manager().newSubManager()) {
            NDList inputs = task.inputs(scope, padded.inputIds(), padded.attentionMask(), padded.tokenTypeIds());
            NDList labels = new NDList(task.type() == TaskType.SEQUENCE_CLASSIFICATION ? scope.create(toLongs(padded.labels())) : scope.create(padded.targets()));
            float loss = trainer.accumulate(inputs, labels, weight);
            if (!Float.isFinite(loss)) {
                trainer.zeroGradients();
                throw diverged(trainer.steps() + 1, "loss", loss);
            }
            return loss;
        }
    }

    /** The seed of PyTorch's generator before step {@code completedSteps} + 1: a mix of the run's seed and the step. */
    static int stepSeed(long seed, long completedSteps) {
        long mixed = seed * 0x9E3779B97F4A7C15L + completedSteps * 0xC2B2AE3D27D4EB4FL;
        return (int) (mixed ^ (mixed >>> 32));
    }

    private TrainingDivergedException diverged(long step, String what, double value) {
        Optional<Path> last = folder.latestCheckpoint();
        String checkpoint = last.map(path -> format("the last good checkpoint is %s (continue from it with 'graft train --resume %s' after changing the recipe there)",
                path, folder.root())).orElse("no checkpoint was written yet");
        return new TrainingDivergedException(format(Locale.ROOT, "training stopped at step %d: the %s is %s; %s. Lower training.learning_rate (now %s)%s, "
                + "or check the data for empty or extreme examples", step, what, value, checkpoint, training.learningRate(),
                training.maxGradNorm() > 0 ? "" : " or turn on gradient clipping (training.max_grad_norm: 1.0)"));
    }

    /** Evaluates on the validation data (if any), logs it, keeps the best adapter; returns whether early stopping says stop. */
    private boolean evaluate() {
        if (setup.validation().isEmpty() || state.lastEvaluationStep() == trainer.steps()) {
            return false;
        }
        Evaluation evaluation = evaluator.evaluate(setup.validation(), setup.manager());
        long step = trainer.steps();
        log.append(new MetricsRecord(step, (double) step / stepsPerEpoch, "validation", evaluation.metrics(), evaluation.gates()));
        progress.message(RunReport.evaluationLine(step, evaluation));
        double value = evaluation.metric(bestMetric);
        boolean improved = state.bestValue() == null || (higherIsBetter ? value > state.bestValue() : value < state.bestValue());
        int withoutImprovement = improved ? 0 : state.evaluationsWithoutImprovement() + 1;
        state = new TrainerState(state.step(), state.epoch(), state.batchInEpoch(), state.samples(), state.tokens(), state.trainingSeconds(), state.replacedSites(),
                state.optimizerSteps(), improved ? value : state.bestValue(), improved ? step : state.bestStep(), withoutImprovement, step);
        if (improved) {
            bestEvaluation = evaluation;
            saveOutputAdapter();
            writePredictions(evaluation);
        }
        int patience = training.earlyStoppingPatience();
        if (patience > 0 && withoutImprovement >= patience) {
            progress.message(format(Locale.ROOT, "early stopping at step %d: %s has not improved on %.4f (step %d) for %d evaluations",
                    step, bestMetric, state.bestValue(), state.bestStep(), withoutImprovement));
            return true;
        }
        return false;
    }

    private void finish() {
        if (!setup.validation().isEmpty() && state.lastEvaluationStep() != trainer.steps()) {
            evaluate();
        }
        if (setup.validation().isEmpty()) {
            saveOutputAdapter();
        }
        if (folder.latestCheckpoint().map(RunFolder::stepOf).orElse(-1L) != trainer.steps()) {
            checkpoint();
        }
    }

    /** Saves the adapters (and head, and replaced base weights) as the run's result in {@code adapter/}. */
    private void saveOutputAdapter() {
        trainer.beforeSave(folder.resolve(RunFolder.ADAPTER));
        writeOrExplain("the adapter", folder.resolve(RunFolder.ADAPTER), () -> {
            RunFolder.writeFolder(folder.resolve(RunFolder.ADAPTER), temporary -> {
                TaskAdapters.save(task, temporary, baseModelNameOrPath());
                FusionStore.saveAll(model, temporary);
            });
            if (TaskAdapters.derivesFromBase(task)) {
                RunFolder.writeFolder(folder.resolve(RunFolder.CONVERTED_ADAPTER), temporary -> TaskAdapters.saveConverted(task, temporary, baseModelNameOrPath()));
            }
            if (!trainer.replacedSites().isEmpty()) {
                dev.graft.runtime.format.SafetensorsWriter.write(folder.resolve(RunFolder.BASE_WEIGHTS),
                        TrainingCheckpoint.replacedBaseWeights(model, trainer), Map.of("format", "pt"));
            }
        });
    }

    /**
     * Runs {@code write}; when it fails (a full disk, a folder made read-only), stops the run with one message that says
     * what was not written, why, and what is intact: every write goes to a temporary name first, so the previous
     * adapter and checkpoints are as they were.
     */
    private void writeOrExplain(String what, Path target, Runnable write) {
        try {
            write.run();
        }
        catch (RuntimeException e) {
            String intact = folder.latestCheckpoint().map(path -> format("the previous adapter and the last checkpoint %s are intact", path))
                    .orElse("the previous adapter is intact and no checkpoint was written yet");
            throw new RunWriteException(format(Locale.ROOT, "training stopped at step %d: cannot write %s %s: %s. Nothing was lost: %s; "
                    + "free space (or fix the folder) and continue with 'graft train --resume %s'", trainer.steps(), what, target, reason(e), intact, folder.root()), e);
        }
    }

    /** Why a write failed, in words: the file system's reason when an I/O error is among the causes. */
    private static String reason(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof IOException) {
                return IoErrors.describe((IOException) cause);
            }
        }
        return failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
    }

    private String baseModelNameOrPath() {
        return Models.nameOrPath(setup.recipe().model());
    }

    private void checkpoint() {
        long step = trainer.steps();
        Path target = folder.checkpoint(step);
        trainer.beforeSave(target);
        writeOrExplain("the checkpoint", target, () -> RunFolder.writeFolder(target, temporary -> {
            TaskAdapters.save(task, temporary.resolve(RunFolder.ADAPTER), baseModelNameOrPath());
            FusionStore.saveAll(model, temporary.resolve(RunFolder.ADAPTER));
            Path stateFolder = temporary.resolve(RunFolder.STATE);
            try {
                Files.createDirectories(stateFolder);
            }
            catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            TrainingCheckpoint.write(stateFolder, trainer, optimizer, model, state);
        }));
        folder.pruneCheckpoints(training.keepCheckpoints());
        progress.message(format("checkpoint %s", folder.root().relativize(target)));
    }

    private TrainerState advance(TrainerState current, int epoch, int batchInEpoch, long tokens, double seconds) {
        return new TrainerState(trainer.steps(), epoch, batchInEpoch, trainer.samples(), current.tokens() + tokens, current.trainingSeconds() + seconds,
                trainer.replacedSites(), current.optimizerSteps(), current.bestValue(), current.bestStep(), current.evaluationsWithoutImprovement(), current.lastEvaluationStep());
    }

    private static TrainerState at(TrainerState current, int epoch, int batchInEpoch) {
        return new TrainerState(current.step(), epoch, batchInEpoch, current.samples(), current.tokens(), current.trainingSeconds(), current.replacedSites(),
                current.optimizerSteps(), current.bestValue(), current.bestStep(), current.evaluationsWithoutImprovement(), current.lastEvaluationStep());
    }

    /** The best evaluation of a resumed run, from its metrics log (without per-example predictions). */
    private Optional<Evaluation> recordedBest() {
        if (state.bestStep() < 0) {
            return Optional.empty();
        }
        for (MetricsRecord record : MetricsLog.read(folder.resolve(RunFolder.METRICS))) {
            if (record.step() == state.bestStep() && record.split().equals("validation")) {
                return Optional.of(new Evaluation(record.values(), new int[0], new float[0][], record.gates(), 0));
            }
        }
        return Optional.empty();
    }

    private void writePredictions(Evaluation evaluation) {
        if (task.head().isEmpty()) {
            return;
        }
        List<String> labels = task.head().get().labels();
        ObjectMapper json = new ObjectMapper();
        StringBuilder lines = new StringBuilder();
        List<Example> validation = setup.validation();
        for (int index = 0; index < validation.size(); index++) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("line", validation.get(index).source().line());
            line.put("label", labels.get(evaluation.predictions()[index]));
            line.put("true_label", validation.get(index).fields().get(setup.recipe().data().labelField()));
            Map<String, Double> probabilities = new LinkedHashMap<>();
            for (int label = 0; label < labels.size(); label++) {
                probabilities.put(labels.get(label), (double) evaluation.probabilities()[index][label]);
            }
            line.put("probabilities", probabilities);
            try {
                lines.append(json.writeValueAsString(line)).append('\n');
            }
            catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        AtomicFiles.write(folder.resolve(RunFolder.PREDICTIONS), lines.toString());
    }

    private static long[] toLongs(int[] values) {
        long[] longs = new long[values.length];
        for (int index = 0; index < values.length; index++) {
            longs[index] = values[index];
        }
        return longs;
    }
}
