package dev.graft.runtime.train;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;

import dev.graft.spi.ArrayValues;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * AdamW as PyTorch's {@code torch.optim.AdamW} computes it: decoupled weight decay {@code w ← w·(1 − lr·λ)}, then
 * bias-corrected moments {@code w ← w − lr·m̂/(√v̂ + ε)}. Its per-parameter state (moments and step count) can be
 * reset, so a method (PeriodicLoRA) can restart its parameters' optimisation through the SPI, and read and restored, so
 * a training run can be checkpointed and resumed bit for bit. DJL's own optimizers keep their state private. The
 * learning rate can be changed between steps (a schedule). Moments are created on a parameter's first update, in the
 * weight's manager, so only trainable tensors that receive updates have state; each update's temporaries live in a
 * scope. It never touches the gradient it is given: the trainer zeroes gradients.
 */
public final class ResettableAdamW extends Optimizer {
    private float learningRate;
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

    /** Updates {@code weight} with weight decay (DJL's entry point; the trainer calls {@link #update(String, NDArray, NDArray, boolean)}). */
    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        update(parameterId, weight, grad, true);
    }

    /**
     * One AdamW update of {@code weight} by {@code grad}.
     *
     * @param decay whether weight decay applies to this parameter (Hugging Face's trainer leaves biases out)
     */
    public void update(String parameterId, NDArray weight, NDArray grad, boolean decay) {
        int step = steps.merge(parameterId, 1, Integer::sum);
        NDArray mean = means.computeIfAbsent(parameterId, id -> weight.zerosLike());
        NDArray variance = variances.computeIfAbsent(parameterId, id -> weight.zerosLike());
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(grad, mean, variance);
            NDArray gradient = rescaleGrad == 1f ? grad : grad.mul(rescaleGrad);
            if (clipGrad > 0) {
                gradient = gradient.clip(-clipGrad, clipGrad);
            }
            mean.muli(beta1).addi(gradient.mul(1 - beta1));
            variance.muli(beta2).addi(gradient.square().muli(1 - beta2));
            double firstCorrection = 1 - Math.pow(beta1, step);
            double secondCorrection = 1 - Math.pow(beta2, step);
            float weightDecay = getWeightDecay();
            if (decay && weightDecay > 0) {
                weight.muli(1 - learningRate * weightDecay);
            }
            // as torch.optim.AdamW: denominator √v / √(1 − β₂ᵗ) + ε, step size lr / (1 − β₁ᵗ); in place on temporaries
            NDArray denominator = variance.sqrt().divi((float) Math.sqrt(secondCorrection)).addi(epsilon);
            weight.subi(mean.div(denominator).muli((float) (learningRate / firstCorrection)));
        }
    }

    /** The learning rate of the next update. */
    public float learningRate() {
        return learningRate;
    }

    /** Sets the learning rate of the following updates (a schedule's value for the coming step). */
    public void setLearningRate(float learningRate) {
        if (!(learningRate >= 0) || Float.isInfinite(learningRate)) {
            throw new IllegalArgumentException(format("learning rate must be non-negative and finite, got %s", learningRate));
        }
        this.learningRate = learningRate;
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

    /** The state of {@code parameterId} (its own arrays: copy before keeping them), or empty if it has none. */
    public Optional<State> state(String parameterId) {
        if (!steps.containsKey(parameterId)) {
            return Optional.empty();
        }
        return Optional.of(new State(means.get(parameterId), variances.get(parameterId), steps.get(parameterId)));
    }

    /**
     * Replaces the state of the parameter {@code parameterId} whose weight is {@code weight}: the moments are copied into
     * new arrays in the weight's manager, so the caller keeps ownership of {@code state}'s arrays.
     *
     * @throws IllegalArgumentException if a moment's shape differs from the weight's
     */
    public void restore(String parameterId, NDArray weight, State state) {
        for (NDArray moment : new NDArray[] {state.mean(), state.variance()}) {
            if (!moment.getShape().equals(weight.getShape())) {
                throw new IllegalArgumentException(format("optimizer state of shape %s does not fit a parameter of shape %s", moment.getShape(), weight.getShape()));
            }
        }
        reset(parameterId);
        NDArray mean = weight.zerosLike();
        NDArray variance = weight.zerosLike();
        ArrayValues.copy(mean, state.mean());
        ArrayValues.copy(variance, state.variance());
        means.put(parameterId, mean);
        variances.put(parameterId, variance);
        steps.put(parameterId, state.step());
    }

    /**
     * One parameter's AdamW state.
     *
     * @param mean the first moment {@code m}
     * @param variance the second moment {@code v}
     * @param step the number of updates so far (for bias correction)
     */
    public record State(NDArray mean, NDArray variance, int step) {
        public State {
            java.util.Objects.requireNonNull(mean, "mean is null");
            java.util.Objects.requireNonNull(variance, "variance is null");
            if (step < 1) {
                throw new IllegalArgumentException(format("an optimizer state has made at least one step, found %d", step));
            }
        }
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
