package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.TrainingContext;
import dev.graft.spi.TrainingEvent;

import java.util.Collection;

/**
 * Trains a {@link PeftModel}'s trainable parameters with a DJL {@link Trainer} and delivers lifecycle events
 * (step end, epoch end, save) to the adapters' methods. One per JVM at a time: DJL's PyTorch engine allows one
 * gradient collector per JVM.
 */
public final class PeftTrainer implements AutoCloseable {
    private final PeftModel model;
    private final Model djlModel;
    private final Trainer trainer;
    private final Optimizer optimizer;
    private final TrainingContext context;
    private long steps;
    private long samples;
    private int epochs;

    private PeftTrainer(PeftModel model, Optimizer optimizer, Loss loss) {
        this.model = requireNonNull(model, "model is null");
        this.optimizer = requireNonNull(optimizer, "optimizer is null");
        this.djlModel = Model.newInstance("graft");
        this.djlModel.setBlock(model);
        this.trainer = djlModel.newTrainer(new DefaultTrainingConfig(requireNonNull(loss, "loss is null")).optOptimizer(optimizer));
        this.context = new ModelTrainingContext();
    }

    /** A trainer of {@code model} with {@code optimizer} (prefer {@link ResettableAdamW}) and {@code loss}. */
    public static PeftTrainer create(PeftModel model, Optimizer optimizer, Loss loss) {
        return new PeftTrainer(model, optimizer, loss);
    }

    /**
     * One optimisation step on a batch: forward, loss, backward, update, then a {@link TrainingEvent.StepEnd} to
     * every method. Returns the loss.
     */
    public float step(NDList inputs, NDList labels) {
        float lossValue;
        try (GradientCollector collector = trainer.newGradientCollector()) {
            NDList predictions = trainer.forward(inputs);
            NDArray loss = trainer.getLoss().evaluate(labels, predictions);
            collector.backward(loss);
            lossValue = loss.getFloat();
            loss.close();
            predictions.close();
        }
        trainer.step();
        int batch = Math.toIntExact(inputs.get(0).getShape().get(0));
        steps++;
        samples += batch;
        model.dispatch(new TrainingEvent.StepEnd(steps, samples, batch), context);
        return lossValue;
    }

    /** Ends an epoch: a {@link TrainingEvent.EpochEnd} to every method. */
    public void endEpoch() {
        epochs++;
        model.dispatch(new TrainingEvent.EpochEnd(epochs, steps, samples), context);
    }

    /** Tells the methods the adapters are about to be saved to {@code directory}. */
    public void beforeSave(java.nio.file.Path directory) {
        model.dispatch(new TrainingEvent.Save(directory), context);
    }

    /** The training context handed to methods with each event. */
    public TrainingContext context() {
        return context;
    }

    public long steps() {
        return steps;
    }

    public long samples() {
        return samples;
    }

    @Override
    public void close() {
        trainer.close();
        djlModel.close();
    }

    private final class ModelTrainingContext implements TrainingContext {
        @Override
        public LinearWeights linearWeights(LinearSite site) {
            return model.linearSite(site).weights();
        }

        @Override
        public void setLinearWeights(LinearSite site, LinearWeights weights) {
            model.linearSite(site).replaceWeights(weights);
        }

        @Override
        public void resetOptimizerState(Collection<Parameter> parameters) {
            if (!(optimizer instanceof ResettableAdamW)) {
                throw new UnsupportedOperationException(format(
                        "optimizer %s cannot reset per-parameter state; train with %s", optimizer.getClass().getSimpleName(), ResettableAdamW.class.getSimpleName()));
            }
            for (Parameter parameter : parameters) {
                ((ResettableAdamW) optimizer).reset(parameter.getId());
            }
        }
    }
}
