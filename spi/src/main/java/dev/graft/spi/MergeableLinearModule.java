package dev.graft.spi;

/**
 * A linear-site module that can fold itself into the base weights and take itself out again. Merges and
 * unmerges return new arrays; the runtime swaps them in, computing in float32 where weights are half precision.
 * A module whose descriptor says {@code mergeable} implements this interface.
 */
public interface MergeableLinearModule extends MethodModule {
    /** The weights with this module folded in. Must not modify {@code base}. */
    LinearWeights merge(LinearWeights base);

    /** The weights with this module taken out of {@code merged}; the inverse of {@link #merge}. */
    LinearWeights unmerge(LinearWeights merged);
}
