package dev.graft.spi;

/**
 * A linear-site module that can fold itself into the base weights and take itself out again. A module whose
 * descriptor says {@code mergeable} implements this interface.
 *
 * <p>The runtime passes float32 copies of the base weight and bias (whatever their stored precision), inside a
 * memory scope; the arrays returned may be new or the ones passed in (an unchanged bias, say), and the runtime
 * copies their values into the base parameters, converting back to the stored precision, then frees them.
 *
 * <p>{@code merge} applies the module's scaling: it adds exactly what the module contributes in plain (ungated)
 * composition, {@code scaling()·ΔW} for an additive module. Extend {@link LinearModuleBlock.MergeableAdditive} (or
 * {@link LowRankLinearModule}) to declare only {@code ΔW} and get both operations. Whether a method merges is read
 * from its descriptor's module type ({@link MethodDescriptor#mergeable()}), so implement this interface in the type
 * the descriptor names.
 */
public interface MergeableLinearModule extends MethodModule {
    /** The weights with this module folded in. Must not modify {@code base}. */
    LinearWeights merge(LinearWeights base);

    /** The weights with this module taken out of {@code merged}; the inverse of {@link #merge}. */
    LinearWeights unmerge(LinearWeights merged);
}
