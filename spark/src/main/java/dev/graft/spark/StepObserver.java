package dev.graft.spark;

import java.io.Serializable;

/**
 * Sees each optimizer step of each training task just before its gradients are exchanged; it runs on the executors,
 * so it must be serializable. For progress hooks and for tests that make a task fail.
 */
@FunctionalInterface
public interface StepObserver extends Serializable {
    /** Observes nothing. */
    StepObserver NONE = (partition, attempt, step) -> {};

    /**
     * @param partition the task's partition (0 writes the run folder)
     * @param attempt 0 the first time the task runs, higher when it or its stage is retried
     * @param step the step about to be taken, from 1
     */
    void beforeUpdate(int partition, int attempt, long step);
}
