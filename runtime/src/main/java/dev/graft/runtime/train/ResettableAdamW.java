package dev.graft.runtime.train;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;

import java.util.HashMap;
import java.util.Map;

/**
 * AdamW (decoupled weight decay, bias-corrected moments) whose per-parameter state can be reset, so a method
 * (PeriodicLoRA) can restart its parameters' optimisation through the SPI. DJL's own optimizers keep their
 * state private. Moments live in the weight's manager; each update's temporaries in a scope.
 */
public final class ResettableAdamW extends Optimizer {
    private final float learningRate;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final Map<String, NDArray> means = new HashMap<>();
    private final Map<String, NDArray> variances = new HashMap<>();
    private final Map<String, Integer> steps = new HashMap<>();

    private ResettableAdamW(Builder builder) {
        super(builder);
        this.learningRate = builder.learningRate;
        this.beta1 = builder.beta1;
        this.beta2 = builder.beta2;
        this.epsilon = builder.epsilon;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        int step = steps.merge(parameterId, 1, Integer::sum);
        NDArray mean = means.computeIfAbsent(parameterId, id -> weight.zerosLike());
        NDArray variance = variances.computeIfAbsent(parameterId, id -> weight.zerosLike());
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(grad, mean, variance);
            NDArray gradient = grad.mul(rescaleGrad);
            if (clipGrad > 0) {
                gradient = gradient.clip(-clipGrad, clipGrad);
            }
            mean.muli(beta1).addi(gradient.mul(1 - beta1));
            variance.muli(beta2).addi(gradient.square().mul(1 - beta2));
            float firstCorrection = (float) (1 - Math.pow(beta1, step));
            float secondCorrection = (float) (1 - Math.pow(beta2, step));
            float weightDecay = getWeightDecay();
            if (weightDecay > 0) {
                weight.muli(1 - learningRate * weightDecay);
            }
            NDArray update = mean.div(firstCorrection).div(variance.div(secondCorrection).sqrt().add(epsilon)).mul(learningRate);
            weight.subi(update);
        }
    }

    /** Forgets the moments and step count of {@code parameterId}, as if it had never been updated. */
    public void reset(String parameterId) {
        NDArray mean = means.remove(parameterId);
        NDArray variance = variances.remove(parameterId);
        if (mean != null) {
            mean.close();
        }
        if (variance != null) {
            variance.close();
        }
        steps.remove(parameterId);
    }

    /** The number of updates applied to {@code parameterId} since creation or the last reset. */
    public int stepCount(String parameterId) {
        return steps.getOrDefault(parameterId, 0);
    }

    /** Builds a {@link ResettableAdamW}; defaults lr 1e-3, betas 0.9/0.999, epsilon 1e-8, no weight decay. */
    public static final class Builder extends OptimizerBuilder<Builder> {
        private float learningRate = 1e-3f;
        private float beta1 = 0.9f;
        private float beta2 = 0.999f;
        private float epsilon = 1e-8f;

        public Builder optLearningRate(float learningRate) {
            if (!(learningRate > 0) || Float.isInfinite(learningRate)) {
                throw new IllegalArgumentException(format("learning rate must be positive and finite, got %s", learningRate));
            }
            this.learningRate = learningRate;
            return this;
        }

        public Builder optBetas(float beta1, float beta2) {
            this.beta1 = beta1;
            this.beta2 = beta2;
            return this;
        }

        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        @Override
        protected Builder self() {
            return this;
        }

        public ResettableAdamW build() {
            return new ResettableAdamW(this);
        }
    }
}
