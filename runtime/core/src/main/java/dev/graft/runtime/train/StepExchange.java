package dev.graft.runtime.train;

/**
 * What a data-parallel run does around each optimizer step of {@link FineTuner}: every worker trains the same adapter
 * on its own share of the data and they agree on the gradients (or, every few steps, on the weights). One worker's
 * {@code FineTuner} calls it; a single-machine run uses {@link #NONE}.
 */
public interface StepExchange {
    /** Nothing exchanged: a run on one machine. */
    StepExchange NONE = new StepExchange() {
        @Override
        public void beforeUpdate(PeftTrainer trainer, long step) {}

        @Override
        public void afterUpdate(PeftTrainer trainer, long step) {}
    };

    /**
     * Called when step {@code step}'s gradients are accumulated, before they are clipped and applied: for example,
     * replaces them with their average over the workers.
     */
    void beforeUpdate(PeftTrainer trainer, long step);

    /** Called after step {@code step} updated the parameters: for example, averages the weights every K steps. */
    void afterUpdate(PeftTrainer trainer, long step);
}
