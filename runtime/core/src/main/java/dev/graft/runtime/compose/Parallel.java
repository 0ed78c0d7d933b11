package dev.graft.runtime.compose;

import java.util.List;

/**
 * AdapterHub's {@code Parallel}: the batch is copied once per adapter and copy {@code i} runs with adapter
 * {@code i} alone, so a forward pass over {@code b} rows returns {@code n·b} rows: rows {@code i·b} to
 * {@code (i + 1)·b − 1} are the batch under adapter {@code i}. Runs as a {@link RowRouting} over the copies, so it
 * works for every method kind; inference only.
 *
 * @param adapterNames the adapters, one copy of the batch each, in output order
 */
public record Parallel(List<String> adapterNames) implements CompositionBlock {
    public Parallel {
        adapterNames = CompositionBlock.checkNames("parallel", adapterNames);
    }

    /** The parallel block of {@code adapterNames}. */
    public static Parallel of(List<String> adapterNames) {
        return new Parallel(adapterNames);
    }

    @Override
    public String kind() {
        return "parallel";
    }
}
