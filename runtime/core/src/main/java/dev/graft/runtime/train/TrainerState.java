package dev.graft.runtime.train;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Map;

/**
 * Where a training run stands, as a checkpoint records it ({@code state/trainer_state.json}): enough, with the
 * checkpoint's tensors, to continue the run exactly as if it had not stopped. The random state needs no record: the
 * trainer seeds PyTorch's generator from the run's seed and the step number before every step.
 *
 * @param step optimizer steps done
 * @param epoch the epoch the next batch belongs to (0-based)
 * @param batchInEpoch the index of the next batch within that epoch
 * @param samples training examples seen
 * @param tokens real training tokens seen
 * @param trainingSeconds time spent in training steps so far (for tokens/s)
 * @param replacedSites the linear sites whose base weights a method replaced (saved beside the checkpoint)
 * @param optimizerSteps the optimizer's step count per trainable parameter, by stable name
 * @param bestValue the best value of the metric for the best adapter so far, or null before the first evaluation
 * @param bestStep the step of that evaluation, or -1
 * @param evaluationsWithoutImprovement evaluations since the best one (for early stopping)
 * @param lastEvaluationStep the step of the last evaluation, or -1
 */
public record TrainerState(
        @JsonProperty("step") long step,
        @JsonProperty("epoch") int epoch,
        @JsonProperty("batch_in_epoch") int batchInEpoch,
        @JsonProperty("samples") long samples,
        @JsonProperty("tokens") long tokens,
        @JsonProperty("training_seconds") double trainingSeconds,
        @JsonProperty("replaced_sites") List<String> replacedSites,
        @JsonProperty("optimizer_steps") Map<String, Integer> optimizerSteps,
        @JsonProperty("best_value") Double bestValue,
        @JsonProperty("best_step") long bestStep,
        @JsonProperty("evaluations_without_improvement") int evaluationsWithoutImprovement,
        @JsonProperty("last_evaluation_step") long lastEvaluationStep) {
    public TrainerState {
        replacedSites = List.copyOf(requireNonNull(replacedSites, "replacedSites is null"));
        optimizerSteps = Map.copyOf(requireNonNull(optimizerSteps, "optimizerSteps is null"));
    }

    /** The state of a run that has not started. */
    public static TrainerState start() {
        return new TrainerState(0, 0, 0, 0, 0, 0, List.of(), Map.of(), null, -1, 0, -1);
    }
}
