package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Pair;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.Scalars;
import dev.graft.spi.TrainingContext;
import dev.graft.spi.TrainingEvent;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Trains a {@link PeftModel}'s trainable parameters (and a task head's, given as extra parameters) and delivers
 * lifecycle events (step end, epoch end, save) to the adapters' methods.
 *
 * <p>One optimizer step is {@link #accumulate} once per micro-batch (forward, loss, backward: gradients add up in
 * the parameters), optionally {@link #clipGradients}, then {@link #update}: the optimizer updates every trainable
 * parameter that has a gradient, the gradients are zeroed, and a {@link TrainingEvent.StepEnd} goes to every method.
 * {@link #step} does all of it for one batch. Only trainable tensors get optimizer state.
 *
 * <p>DJL's PyTorch engine allows one gradient collector per JVM: trainers that run at the same time in one JVM (the
 * tasks of a Spark executor) take turns for the forward and backward pass of {@link #accumulate}.
 */
public final class PeftTrainer implements AutoCloseable {
    /** DJL's PyTorch engine allows one gradient collector per JVM: trainers running at once (Spark tasks) take turns. */
    private static final Object GRADIENT_COLLECTOR = new Object();
    private final PeftModel model;
    private final Optimizer optimizer;
    private final Objective objective;
    private final List<Parameter> extraParameters;
    private final TrainingContext context;
    private final Set<String> replacedSites = new LinkedHashSet<>();
    private long steps;
    private long samples;
    private int epochs;
    private int pendingSamples;

    private PeftTrainer(PeftModel model, Optimizer optimizer, Objective objective, List<Parameter> extraParameters) {
        this.model = requireNonNull(model, "model is null");
        this.optimizer = requireNonNull(optimizer, "optimizer is null");
        this.objective = requireNonNull(objective, "objective is null");
        this.extraParameters = List.copyOf(requireNonNull(extraParameters, "extraParameters is null"));
        this.context = new ModelTrainingContext();
    }

    /** A trainer of {@code model} with {@code optimizer} (prefer {@link ResettableAdamW}) and {@code loss} over the model's outputs. */
    public static PeftTrainer create(PeftModel model, Optimizer optimizer, Loss loss) {
        requireNonNull(model, "model is null");
        requireNonNull(loss, "loss is null");
        Objective objective = (parameterStore, inputs, labels, training) -> {
            NDList predictions = model.forward(parameterStore, inputs, training);
            return loss.evaluate(labels, predictions);
        };
        return new PeftTrainer(model, optimizer, objective, List.of());
    }

    /**
     * A trainer of {@code model} and {@code extraParameters} (a task head's, trained in full) minimising {@code objective}.
     */
    public static PeftTrainer create(PeftModel model, Optimizer optimizer, Objective objective, List<Parameter> extraParameters) {
        return new PeftTrainer(model, optimizer, objective, extraParameters);
    }

    /** One optimisation step on a batch: {@link #accumulate} then {@link #update}. Returns the loss. */
    public float step(NDList inputs, NDList labels) {
        float loss = accumulate(inputs, labels, 1f);
        update();
        return loss;
    }

    /**
     * Forward, loss and backward on one micro-batch; the gradients of {@code weight · loss} are added to the
     * parameters' gradients. The inputs and labels are attached to a scope for the duration, so everything the
     * forward pass makes is freed when it returns.
     *
     * @param weight the share of this micro-batch in the step's loss (1 / accumulation steps, say)
     * @return the (unweighted) loss
     */
    public float accumulate(NDList inputs, NDList labels, float weight) {
        NDArray anchor = inputs.get(0);
        float lossValue;
        synchronized (GRADIENT_COLLECTOR) {
            lossValue = forwardAndBackward(inputs, labels, weight);
        }
        pendingSamples += Math.toIntExact(anchor.getShape().get(0));
        return lossValue;
    }

    private float forwardAndBackward(NDList inputs, NDList labels, float weight) {
        NDArray anchor = inputs.get(0);
        float lossValue;
        try (NDManager scope = anchor.getManager().newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            scope.tempAttachAll(inputs);
            scope.tempAttachAll(labels);
            NDArray loss = objective.loss(new ParameterStore(scope, false), inputs, labels, true);
            lossValue = loss.getFloat();
            if (Float.isFinite(lossValue)) {
                collector.backward(weight == 1f ? loss : Scalars.times(loss, weight));
            }
        }
        return lossValue;
    }

    /** The global L2 norm of the trainable parameters' gradients, as {@code torch.nn.utils.clip_grad_norm_} computes it. */
    public double gradientNorm() {
        double sumOfSquares = 0;
        for (Parameter parameter : trainableParameters()) {
            if (!parameter.getArray().hasGradient()) {
                continue;
            }
            // each intermediate closed: the gradient lives in the model's manager, and so would an unclosed square
            try (NDArray gradient = parameter.getArray().getGradient(); NDArray squares = gradient.square(); NDArray sum = squares.sum()) {
                sumOfSquares += sum.getFloat();
            }
        }
        return Math.sqrt(sumOfSquares);
    }

    /**
     * Scales every gradient by {@code maxNorm / (norm + 1e-6)} when the global norm exceeds {@code maxNorm}, as
     * {@code clip_grad_norm_} does.
     *
     * @return the global norm before clipping
     */
    public double clipGradients(double maxNorm) {
        double norm = gradientNorm();
        if (maxNorm > 0 && norm > maxNorm && Double.isFinite(norm)) {
            float factor = (float) (maxNorm / (norm + 1e-6));
            for (Parameter parameter : trainableParameters()) {
                if (parameter.getArray().hasGradient()) {
                    try (NDArray gradient = parameter.getArray().getGradient()) {
                        gradient.muli(factor);
                    }
                }
            }
        }
        return norm;
    }

    /**
     * Applies the optimizer to every trainable parameter with its accumulated gradient, zeroes the gradients and
     * delivers a {@link TrainingEvent.StepEnd}. Biases are left out of weight decay, as Hugging Face's trainer does.
     */
    public void update() {
        boolean decoupled = optimizer instanceof ResettableAdamW;
        for (Parameter parameter : trainableParameters()) {
            NDArray array = parameter.getArray();
            if (!array.hasGradient()) {
                continue;
            }
            try (NDArray gradient = array.getGradient()) {
                if (decoupled) {
                    ((ResettableAdamW) optimizer).update(parameter.getId(), array, gradient, decays(parameter));
                }
                else {
                    optimizer.update(parameter.getId(), array, gradient);
                }
                gradient.subi(gradient);
            }
        }
        steps++;
        samples += pendingSamples;
        int batch = pendingSamples;
        pendingSamples = 0;
        model.dispatch(new TrainingEvent.StepEnd(steps, samples, batch), context);
    }

    private static boolean decays(Parameter parameter) {
        return parameter.getType() != Parameter.Type.BIAS && !parameter.getName().contains("bias");
    }

    /** Zeroes every trainable gradient without updating (after a step was abandoned). */
    public void zeroGradients() {
        for (Parameter parameter : trainableParameters()) {
            if (parameter.getArray().hasGradient()) {
                try (NDArray gradient = parameter.getArray().getGradient()) {
                    gradient.subi(gradient);
                }
            }
        }
        pendingSamples = 0;
    }

    /**
     * The trainable parameters, each once, by a name that is stable across runs of the same recipe (the model's
     * block path, or {@code head.<name>} for extra parameters), in model order.
     */
    public Map<String, Parameter> namedTrainableParameters() {
        Map<String, Parameter> named = new LinkedHashMap<>();
        Map<Parameter, Boolean> seen = new IdentityHashMap<>();
        for (Pair<String, Parameter> pair : model.getParameters()) {
            Parameter parameter = pair.getValue();
            if (parameter.requiresGradient() && parameter.getArray() != null && seen.put(parameter, Boolean.TRUE) == null) {
                named.put(pair.getKey(), parameter);
            }
        }
        for (Parameter parameter : extraParameters) {
            if (parameter.requiresGradient() && seen.put(parameter, Boolean.TRUE) == null) {
                named.put("head." + parameter.getName(), parameter);
            }
        }
        return Collections.unmodifiableMap(named);
    }

    private Collection<Parameter> trainableParameters() {
        return namedTrainableParameters().values();
    }

    /** Ends an epoch: a {@link TrainingEvent.EpochEnd} to every method. */
    public void endEpoch() {
        epochs++;
        model.dispatch(new TrainingEvent.EpochEnd(epochs, steps, samples), context);
    }

    /** Tells the methods the adapters are about to be saved to {@code directory}. */
    public void beforeSave(Path directory) {
        model.dispatch(new TrainingEvent.Save(directory), context);
    }

    /** The training context handed to methods with each event. */
    public TrainingContext context() {
        return context;
    }

    /** The optimizer. */
    public Optimizer optimizer() {
        return optimizer;
    }

    /** The linear sites whose base weights a method replaced during training (PeriodicLoRA's offloads), in order. */
    public List<String> replacedSites() {
        return List.copyOf(replacedSites);
    }

    public long steps() {
        return steps;
    }

    public long samples() {
        return samples;
    }

    public int epochs() {
        return epochs;
    }

    /**
     * Sets the counters of a resumed run, so the methods see the same step and sample counts as in the run that
     * was stopped.
     */
    public void restoreCounters(long steps, long samples, int epochs, List<String> replacedSites) {
        if (steps < 0 || samples < 0 || epochs < 0) {
            throw new IllegalArgumentException(format("counters cannot be negative: steps %d, samples %d, epochs %d", steps, samples, epochs));
        }
        this.steps = steps;
        this.samples = samples;
        this.epochs = epochs;
        this.replacedSites.clear();
        this.replacedSites.addAll(replacedSites);
    }

    /** Nothing native to free: the optimizer's state lives in the model's manager. */
    @Override
    public void close() {}

    private final class ModelTrainingContext implements TrainingContext {
        @Override
        public LinearWeights linearWeights(LinearSite site) {
            return model.linearSite(site).weights();
        }

        @Override
        public void setLinearWeights(LinearSite site, LinearWeights weights) {
            model.linearSite(site).replaceWeights(weights);
            replacedSites.add(site.name());
        }

        @Override
        public void resetOptimizerState(Collection<Parameter> parameters) {
            if (!(optimizer instanceof ResettableAdamW)) {
                throw new UnsupportedOperationException(format(
                        "optimizer %s cannot reset per-parameter state; train with %s", optimizer.getClass().getSimpleName(), ResettableAdamW.class.getSimpleName()));
            }
            List<Parameter> reset = new ArrayList<>(parameters);
            for (Parameter parameter : reset) {
                ((ResettableAdamW) optimizer).reset(parameter.getId());
            }
        }
    }
}
