package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/** Something that happened during training, delivered to {@link MethodInstance#onEvent}. */
public sealed interface TrainingEvent permits TrainingEvent.StepEnd, TrainingEvent.EpochEnd, TrainingEvent.Save {
    /**
     * An optimizer step has been applied.
     *
     * @param step the number of steps done so far (1 after the first)
     * @param samplesSeen the number of training examples seen so far
     * @param batchSize the number of examples in this step
     */
    record StepEnd(long step, long samplesSeen, int batchSize) implements TrainingEvent {}

    /**
     * An epoch has ended.
     *
     * @param epoch the number of epochs done so far (1 after the first)
     * @param step steps so far
     * @param samplesSeen examples seen so far
     */
    record EpochEnd(int epoch, long step, long samplesSeen) implements TrainingEvent {}

    /**
     * The adapter is about to be saved to {@code directory}.
     *
     * @param directory where it will be saved
     */
    record Save(Path directory) implements TrainingEvent {
        public Save {
            requireNonNull(directory, "directory is null");
        }
    }
}
