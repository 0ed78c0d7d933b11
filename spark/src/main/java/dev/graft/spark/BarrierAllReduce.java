package dev.graft.spark;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.StepExchange;
import org.apache.spark.BarrierTaskContext;

import java.util.ArrayList;
import java.util.List;

/**
 * The all-reduce of a barrier stage: each step every task's adapter gradients (or, every K steps, its trainable
 * weights) are gathered through {@link BarrierTaskContext#allGather} and replaced by their mean. Every task adds the
 * gathered arrays in task order, so all tasks get the same bits and their adapters stay identical.
 */
final class BarrierAllReduce implements StepExchange {
    private final BarrierTaskContext context;
    private final int averageWeightsEvery;
    private final StepObserver observer;

    /**
     * @param averageWeightsEvery 0: average the gradients every step; K &gt; 0: train locally and average the weights every K steps
     */
    BarrierAllReduce(BarrierTaskContext context, int averageWeightsEvery, StepObserver observer) {
        this.context = requireNonNull(context, "context is null");
        if (averageWeightsEvery < 0) {
            throw new IllegalArgumentException(format("averageWeightsEvery must be 0 (average gradients) or positive, not %d", averageWeightsEvery));
        }
        this.averageWeightsEvery = averageWeightsEvery;
        this.observer = requireNonNull(observer, "observer is null");
    }

    @Override
    public void beforeUpdate(PeftTrainer trainer, long step) {
        observer.beforeUpdate(context.partitionId(), context.stageAttemptNumber() + context.attemptNumber(), step);
        if (averageWeightsEvery == 0) {
            average(trainer, true, step);
        }
    }

    @Override
    public void afterUpdate(PeftTrainer trainer, long step) {
        if (averageWeightsEvery > 0 && step % averageWeightsEvery == 0) {
            average(trainer, false, step);
        }
    }

    private void average(PeftTrainer trainer, boolean gradients, long step) {
        List<NDArray> arrays = new ArrayList<>();
        for (Parameter parameter : trainer.namedTrainableParameters().values()) {
            NDArray array = parameter.getArray();
            if (!gradients) {
                arrays.add(array);
            }
            else if (array.hasGradient()) {
                arrays.add(array.getGradient());
            }
        }
        int total = 0;
        for (NDArray array : arrays) {
            total += Math.toIntExact(array.size());
        }
        float[] local = new float[total];
        int offset = 0;
        for (NDArray array : arrays) {
            float[] values = array.toFloatArray();
            System.arraycopy(values, 0, local, offset, values.length);
            offset += values.length;
        }
        String[] gathered = context.allGather(FloatCodec.encode(local));
        float[] sum = new float[total];
        for (String encoded : gathered) {
            float[] values = FloatCodec.decode(encoded);
            if (values.length != total) {
                throw new IllegalStateException(format("step %d: a task sent %d values, this one has %d: the tasks do not train the same adapter", step, values.length, total));
            }
            for (int index = 0; index < total; index++) {
                sum[index] += values[index];
            }
        }
        float tasks = gathered.length;
        offset = 0;
        for (NDArray array : arrays) {
            int size = Math.toIntExact(array.size());
            float[] mean = new float[size];
            for (int index = 0; index < size; index++) {
                mean[index] = sum[offset + index] / tasks;
            }
            offset += size;
            try (NDManager scope = array.getManager().newSubManager()) {
                NDArray averaged = scope.create(mean, array.getShape());
                array.subi(array);
                array.addi(averaged);
            }
            if (gradients) {
                array.close();
            }
        }
    }
}
