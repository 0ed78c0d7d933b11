package dev.graft.runtime.train;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What a finished training run produced.
 *
 * @param folder the run's output folder
 * @param best the evaluation of the adapter kept in {@code adapter/} (the best one), if there was validation data
 * @param steps the optimizer steps of the run
 * @param tokensPerSecond real training tokens per second of training time (evaluation and saving excluded)
 * @param trainingSeconds the time spent in training steps
 * @param wallSeconds the wall time of the whole run, evaluations and saving included
 * @param dataWaitMillisPerStep the mean time per step the trainer waited for the data pipeline's next batch (in this
 *     process: a resumed run counts from the resume)
 */
public record RunResult(Path folder, Optional<Evaluation> best, long steps, double tokensPerSecond, double trainingSeconds, double wallSeconds,
        double dataWaitMillisPerStep) {
    public RunResult {
        requireNonNull(folder, "folder is null");
        requireNonNull(best, "best is null");
    }
}
