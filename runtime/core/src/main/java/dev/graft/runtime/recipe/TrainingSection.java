package dev.graft.runtime.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * The {@code training:} section of a recipe: the optimizer, the schedule, evaluation and checkpoints.
 * Names and defaults follow Hugging Face's {@code TrainingArguments} where it has the field.
 * <pre>
 * training:
 *   epochs: 3                       # default 3, at least 1
 *   max_steps: 0                    # default 0: the epochs decide; above 0 the run stops at that optimizer step
 *   batch_size: 16                  # default 16 examples per micro-batch
 *   eval_batch_size: 32             # default 32
 *   gradient_accumulation_steps: 1  # default 1; micro-batches per optimizer step
 *   learning_rate: 5.0e-4           # default 5e-4, above 0
 *   weight_decay: 0.0               # default 0.0 (AdamW's decoupled decay; never on biases)
 *   adam_beta1: 0.9                 # default 0.9, in [0, 1)
 *   adam_beta2: 0.999               # default 0.999, in [0, 1)
 *   adam_epsilon: 1.0e-8            # default 1e-8, above 0
 *   lr_scheduler: linear            # linear (default) | cosine | constant, after the warm-up
 *   warmup_steps: 0                 # default 0; wins over warmup_ratio when above 0
 *   warmup_ratio: 0.0               # default 0.0, in [0, 1): the share of all steps spent warming up
 *   max_grad_norm: 1.0              # default 1.0; gradients are clipped to this global norm; 0 = no clipping
 *   seed: 42                        # default 42: initialisation, data order and dropout
 *   eval_every: 0                   # default 0: evaluate at the end of each epoch; above 0: every that many steps
 *   early_stopping_patience: 0      # default 0 (off): stop after that many evaluations without improvement
 *   metric_for_best: auto           # auto (default: macro_f1 for classification, loss for causal LM) | loss | accuracy | macro_f1 | perplexity
 *   checkpoint_every: 0             # default 0: a checkpoint at each evaluation; above 0: every that many steps
 *   keep_checkpoints: 2             # default 2, at least 1: the newest checkpoints kept
 *   log_every: 10                   # default 10, at least 1: steps between lines of metrics.jsonl
 * </pre>
 *
 * @param epochs passes over the training data
 * @param maxSteps the last optimizer step, or 0 to let the epochs decide
 * @param batchSize examples per micro-batch
 * @param evalBatchSize examples per evaluation batch
 * @param gradientAccumulationSteps micro-batches summed into one optimizer step
 * @param learningRate the peak learning rate
 * @param weightDecay AdamW's decoupled weight decay
 * @param adamBeta1 AdamW's first-moment decay
 * @param adamBeta2 AdamW's second-moment decay
 * @param adamEpsilon AdamW's epsilon
 * @param lrScheduler the schedule after warm-up
 * @param warmupSteps warm-up steps
 * @param warmupRatio warm-up as a share of all steps, when warmupSteps is 0
 * @param maxGradNorm the global gradient norm to clip to, or 0
 * @param seed the random seed
 * @param evalEvery steps between evaluations, or 0 for once per epoch
 * @param earlyStoppingPatience evaluations without improvement before stopping, or 0
 * @param metricForBest the validation metric that picks the best adapter
 * @param checkpointEvery steps between checkpoints, or 0 for one at each evaluation
 * @param keepCheckpoints how many checkpoints to keep
 * @param logEvery steps between training log lines
 */
public record TrainingSection(
        @JsonProperty("epochs") int epochs,
        @JsonProperty("max_steps") int maxSteps,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("eval_batch_size") int evalBatchSize,
        @JsonProperty("gradient_accumulation_steps") int gradientAccumulationSteps,
        @JsonProperty("learning_rate") double learningRate,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("adam_beta1") double adamBeta1,
        @JsonProperty("adam_beta2") double adamBeta2,
        @JsonProperty("adam_epsilon") double adamEpsilon,
        @JsonProperty("lr_scheduler") String lrScheduler,
        @JsonProperty("warmup_steps") int warmupSteps,
        @JsonProperty("warmup_ratio") double warmupRatio,
        @JsonProperty("max_grad_norm") double maxGradNorm,
        @JsonProperty("seed") long seed,
        @JsonProperty("eval_every") int evalEvery,
        @JsonProperty("early_stopping_patience") int earlyStoppingPatience,
        @JsonProperty("metric_for_best") String metricForBest,
        @JsonProperty("checkpoint_every") int checkpointEvery,
        @JsonProperty("keep_checkpoints") int keepCheckpoints,
        @JsonProperty("log_every") int logEvery) {
    /** The schedules a recipe names. */
    public static final List<String> SCHEDULERS = List.of("linear", "cosine", "constant");
    /** The metrics a recipe may pick the best adapter by. */
    public static final List<String> METRICS = List.of("auto", "loss", "accuracy", "macro_f1", "perplexity");

    public TrainingSection {
        FieldChecks.atLeast("training.epochs", epochs, 1);
        FieldChecks.atLeast("training.max_steps", maxSteps, 0);
        FieldChecks.atLeast("training.batch_size", batchSize, 1);
        FieldChecks.atLeast("training.eval_batch_size", evalBatchSize, 1);
        FieldChecks.atLeast("training.gradient_accumulation_steps", gradientAccumulationSteps, 1);
        FieldChecks.positive("training.learning_rate", learningRate);
        FieldChecks.nonNegative("training.weight_decay", weightDecay);
        FieldChecks.fraction("training.adam_beta1", adamBeta1);
        FieldChecks.fraction("training.adam_beta2", adamBeta2);
        FieldChecks.positive("training.adam_epsilon", adamEpsilon);
        FieldChecks.required("training.lr_scheduler", lrScheduler);
        FieldChecks.oneOf("training.lr_scheduler", lrScheduler, SCHEDULERS);
        FieldChecks.atLeast("training.warmup_steps", warmupSteps, 0);
        FieldChecks.fraction("training.warmup_ratio", warmupRatio);
        FieldChecks.nonNegative("training.max_grad_norm", maxGradNorm);
        FieldChecks.atLeast("training.eval_every", evalEvery, 0);
        FieldChecks.atLeast("training.early_stopping_patience", earlyStoppingPatience, 0);
        FieldChecks.required("training.metric_for_best", metricForBest);
        FieldChecks.oneOf("training.metric_for_best", metricForBest, METRICS);
        FieldChecks.atLeast("training.checkpoint_every", checkpointEvery, 0);
        FieldChecks.atLeast("training.keep_checkpoints", keepCheckpoints, 1);
        FieldChecks.atLeast("training.log_every", logEvery, 1);
    }

    /** Every field at its default. */
    public static TrainingSection defaults() {
        return new TrainingSection(3, 0, 16, 32, 1, 5e-4, 0.0, 0.9, 0.999, 1e-8, "linear", 0, 0.0, 1.0, 42, 0, 0, "auto", 0, 2, 10);
    }
}
