package dev.graft.runtime.data;

/** Turns the examples of one task into model inputs. Implementations are thread-safe: batches are encoded on a loader thread. */
@FunctionalInterface
public interface ExampleEncoder {
    /**
     * Encodes {@code example}, the {@code index}-th of its data set.
     *
     * @throws DataException naming the line and the field when the example does not fit the task
     */
    TokenizedExample encode(int index, Example example);
}
