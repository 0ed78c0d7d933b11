package dev.graft.spi;

/**
 * The base of a method that attaches to linear sites only (LoRA and its relatives): {@link AbstractPeftMethod} with
 * the site kind set to {@link SiteKind#LINEAR} and the factory methods typed for a {@link LinearSite}.
 *
 * @param <O> the options record
 */
public abstract class LinearMethod<O extends Record> extends AbstractPeftMethod<O> {
    /** A linear-site method; see {@link AbstractPeftMethod#AbstractPeftMethod}. Do not set the site kinds. */
    protected LinearMethod(Class<O> optionsType, MethodDescriptor.Builder descriptor) {
        super(optionsType, descriptor.setSiteKinds(SiteKind.LINEAR));
    }

    /** The module at the linear site {@code site}. */
    protected abstract MethodModule module(O options, LinearSite site);

    /** The trainable parameters of the module at {@code site}, by the method's formula. */
    protected abstract long parameterCount(O options, LinearSite site);

    /**
     * Refuses a rank above {@code min(in, out)} at {@code site}: a rank-{@code r} update of that shape then has more
     * parameters than a full-rank one and no more expressive power, which is almost always a typo or a wrong target.
     * Call it from {@link #module(Record, LinearSite)} before making anything.
     *
     * @param option the option that set the rank, as the user wrote it ({@code r})
     * @throws InvalidOptionsException naming the method, the option, its value, the site, its shape and the largest rank allowed
     */
    protected static void requireRankWithinLayer(String methodId, String option, int rank, LinearSite site) {
        int largest = Math.min(site.inFeatures(), site.outFeatures());
        if (rank > largest) {
            throw InvalidOptionsException.invalidValue(methodId, option, rank, String.format(
                    "at most %d at %s (min(in %d, out %d)): a larger rank adds parameters but no expressive power; lower %s, or give that module a "
                            + "smaller rank_pattern entry where the method has one", largest, site.name(), site.inFeatures(), site.outFeatures(), option));
        }
    }

    @Override
    protected final MethodModule module(O options, Site site) {
        return module(options, (LinearSite) site);
    }

    @Override
    protected final long parameterCount(O options, Site site) {
        return parameterCount(options, (LinearSite) site);
    }
}
