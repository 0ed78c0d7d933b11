package dev.graft.runtime.task;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.peft.PeftModel;

import java.util.List;
import java.util.Optional;

/**
 * A {@link PeftModel} with what its task adds: a {@link ClassificationHead} for sequence classification, nothing
 * for a causal LM (its {@code lm_head} is part of the frozen base). It turns batches into model inputs, computes
 * logits and the task's loss: cross-entropy over the labels, or over the next token at every counted position.
 */
public final class TaskModel {
    /** The target value of a position the loss does not count (PyTorch's {@code ignore_index}). */
    public static final long IGNORED = -100;

    private final PeftModel model;
    private final TaskType type;
    private final ClassificationHead head;

    private TaskModel(PeftModel model, TaskType type, ClassificationHead head) {
        this.model = requireNonNull(model, "model is null");
        this.type = requireNonNull(type, "type is null");
        this.head = head;
    }

    /** Sequence classification with {@code head} on {@code model}'s encoder. */
    public static TaskModel classification(PeftModel model, ClassificationHead head) {
        return new TaskModel(model, TaskType.SEQUENCE_CLASSIFICATION, requireNonNull(head, "head is null"));
    }

    /** Causal language modelling with {@code model}'s own language-model head. */
    public static TaskModel causalLm(PeftModel model) {
        if (!"llama".equals(model.base().modelType())) {
            throw new IllegalArgumentException(format("causal-lm needs a decoder; this is a %s model", model.base().modelType()));
        }
        return new TaskModel(model, TaskType.CAUSAL_LM, null);
    }

    public PeftModel model() {
        return model;
    }

    public TaskType type() {
        return type;
    }

    /** The classification head, empty for a causal LM. */
    public Optional<ClassificationHead> head() {
        return Optional.ofNullable(head);
    }

    /** The parameters trained beside the adapters: the head's (none for a causal LM). */
    public List<Parameter> headParameters() {
        return head == null ? List.of() : head.parameters();
    }

    /**
     * The model inputs of a batch: {@code input_ids, attention_mask} and, for an encoder, {@code token_type_ids}
     * (zeros when {@code tokenTypeIds} is null).
     */
    public NDList inputs(NDManager manager, long[][] inputIds, long[][] attentionMask, long[][] tokenTypeIds) {
        NDList inputs = new NDList(manager.create(inputIds), manager.create(attentionMask));
        if (!"llama".equals(model.base().modelType())) {
            inputs.add(tokenTypeIds == null ? inputs.get(0).zerosLike() : manager.create(tokenTypeIds));
        }
        return inputs;
    }

    /** Logits: {@code (batch, labels)} for classification, {@code (batch, sequence, vocabulary)} for a causal LM. */
    public NDArray logits(ParameterStore parameterStore, NDList inputs, boolean training) {
        NDList outputs = model.forward(parameterStore, inputs, training);
        if (head == null) {
            return outputs.get(0);
        }
        return head.logits(parameterStore, outputs, inputs.get(1), training);
    }

    /** The mean loss of a batch ({@code labels}: class indexes, or per-position targets): the training objective. */
    public NDArray meanLoss(ParameterStore parameterStore, NDList inputs, NDList labels, boolean training) {
        LossSum sum = lossSum(logits(parameterStore, inputs, training), labels.singletonOrThrow());
        return sum.total().div(sum.count().maximum(1f));
    }

    /**
     * The summed loss and the number of terms: one per example for classification ({@code labels (batch)} class
     * indexes); one per counted position for a causal LM ({@code labels (batch, sequence)} the token each position
     * predicts in Hugging Face's unshifted convention, {@link #IGNORED} where not counted; logits at position t are
     * compared with the target at t + 1).
     */
    public LossSum lossSum(NDArray logits, NDArray labels) {
        if (type == TaskType.SEQUENCE_CLASSIFICATION) {
            NDArray losses = negativeLogLikelihood(logits, labels.toType(DataType.INT64, false));
            return new LossSum(losses.sum(), losses.getManager().create((float) losses.getShape().get(0)));
        }
        long length = logits.getShape().get(1);
        NDArray shiftedLogits = logits.get(new NDIndex(":, :{}, :", length - 1));
        NDArray targets = labels.toType(DataType.INT64, false).get(new NDIndex(":, 1:"));
        NDArray counted = targets.neq(IGNORED).toType(DataType.FLOAT32, false);
        NDArray safeTargets = targets.clip(0, logits.getShape().get(2) - 1);
        NDArray losses = negativeLogLikelihood(shiftedLogits, safeTargets).mul(counted);
        return new LossSum(losses.sum(), counted.sum());
    }

    /** {@code −log softmax(logits)[target]} along the last axis, computed in float32. */
    private static NDArray negativeLogLikelihood(NDArray logits, NDArray targets) {
        NDArray logProbabilities = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
        return logProbabilities.gather(targets.expandDims(-1), -1).squeeze(-1).neg();
    }

    /**
     * A summed loss and its number of terms, as scalars.
     *
     * @param total the sum of the per-term losses
     * @param count how many terms it sums
     */
    public record LossSum(NDArray total, NDArray count) {
        public LossSum {
            requireNonNull(total, "total is null");
            requireNonNull(count, "count is null");
        }
    }
}
