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

    @Override
    protected final MethodModule module(O options, Site site) {
        return module(options, (LinearSite) site);
    }

    @Override
    protected final long parameterCount(O options, Site site) {
        return parameterCount(options, (LinearSite) site);
    }
}
