package dev.graft.runtime.task;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import java.util.Locale;

/** How a classification head turns an encoder's outputs into one vector per example. */
public enum Pooling {
    /**
     * The mean of {@code last_hidden_state} over the real tokens (attention mask 1), as sentence-transformers' Pooling
     * module computes it for models such as all-MiniLM-L6-v2.
     */
    MEAN,
    /** The first token's ({@code [CLS]}) hidden state, without a pooler. */
    CLS,
    /** {@code pooler_output}: {@code tanh(dense(h_[CLS]))}, what Hugging Face's {@code BertForSequenceClassification} reads. */
    POOLER;

    /** The name in a recipe and in {@code adapter_config.json} ({@code mean}, {@code cls}, {@code pooler}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The pooling of a recipe's {@code task.pooling}: {@code auto} gives {@link #POOLER} for a model with a pooler
     * and {@link #MEAN} for one without (sentence-transformers checkpoints).
     */
    public static Pooling resolve(String name, boolean modelHasPooler) {
        if (name == null || name.equals("auto")) {
            return modelHasPooler ? POOLER : MEAN;
        }
        Pooling pooling;
        try {
            pooling = valueOf(name.toUpperCase(Locale.ROOT));
        }
        catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(format("unknown task.pooling '%s'; use auto, mean, cls or pooler", name), e);
        }
        if (pooling == POOLER && !modelHasPooler) {
            throw new IllegalArgumentException("task.pooling is pooler, but this model has no pooler (pooler.dense); use mean or cls");
        }
        return pooling;
    }

    /**
     * The pooled vectors {@code (batch, hidden)} of an encoder's outputs ({@code last_hidden_state}, then
     * {@code pooler_output} where the model has one) with {@code attentionMask (batch, sequence)}.
     */
    public NDArray pool(NDList outputs, NDArray attentionMask) {
        NDArray hidden = outputs.get(0);
        switch (this) {
            case MEAN: {
                NDArray mask = attentionMask.toType(hidden.getDataType(), false).expandDims(-1);
                NDArray summed = hidden.mul(mask).sum(new int[] {1});
                NDArray counts = mask.sum(new int[] {1}).maximum(1e-9f);
                return summed.div(counts);
            }
            case CLS:
                return hidden.get(new NDIndex(":, 0"));
            case POOLER:
                if (outputs.size() < 2) {
                    throw new IllegalStateException("the model returned no pooler_output");
                }
                return outputs.get(1).toType(DataType.FLOAT32, false);
            default:
                throw new AssertionError(this);
        }
    }
}
