package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The base of a method: a descriptor and a factory. A subclass passes its descriptor (id, version, SPI version, PEFT
 * type, site kinds, module type, default targets, description) and its options record ({@link Option} components) to
 * the constructor, and implements {@link #module} and {@link #parameterCount}. The runtime validates raw options
 * against the record's schema; {@link #create} binds them to the record and makes an adapter that attaches one module
 * per selected site. Override {@link #createInstance} only for a method with state shared by its modules (VeRA's
 * projections, prefix tuning's encoder, PeriodicLoRA's events).
 *
 * <p>Register the concrete class with {@code @AutoService(PeftMethod.class)}; it needs a public no-argument constructor.
 *
 * @param <O> the options record
 */
public abstract class AbstractPeftMethod<O extends Record> implements PeftMethod {
    private final Class<O> optionsType;
    private final MethodDescriptor descriptor;

    /**
     * A method with options {@code optionsType} and the descriptor being built by {@code descriptor} (its options are
     * set here from {@code optionsType}).
     */
    protected AbstractPeftMethod(Class<O> optionsType, MethodDescriptor.Builder descriptor) {
        this.optionsType = requireNonNull(optionsType, "optionsType is null");
        this.descriptor = requireNonNull(descriptor, "descriptor is null").optOptions(optionsType).build();
    }

    /** A descriptor builder, for the constructor's argument. */
    protected static MethodDescriptor.Builder describe() {
        return MethodDescriptor.builder();
    }

    @Override
    public final MethodDescriptor descriptor() {
        return descriptor;
    }

    /** The method's id, for messages. */
    protected final String id() {
        return descriptor.id();
    }

    /**
     * Binds {@code options} to the options record (whose constructor may check rules across fields) and calls
     * {@link #createInstance}.
     */
    @Override
    public final MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        return createInstance(options.bind(optionsType), model);
    }

    /**
     * One adapter on {@code model}. By default one that attaches {@link #module} at every site of the descriptor's kinds
     * the runtime selects and counts with {@link #parameterCount}; override for shared state or events.
     *
     * @throws InvalidOptionsException if the options do not fit {@code model}
     */
    protected MethodInstance createInstance(O options, ModelContext model) {
        return new ModuleFactory(options);
    }

    /** The module at {@code site} (one of the descriptor's kinds). Set its parameters' shapes and initializers. */
    protected abstract MethodModule module(O options, Site site);

    /** The number of trainable parameters of the module at {@code site}, by the method's formula (not by counting). */
    protected abstract long parameterCount(O options, Site site);

    /**
     * The raw options of an adapter of this method whose low-rank modules have rank {@code ranksBySite} and scaling 1;
     * see {@link MethodInstance#optionsForRanks}. Empty by default.
     */
    protected Optional<Map<String, Object>> optionsForRanks(O options, Map<String, Integer> ranksBySite) {
        return Optional.empty();
    }

    private final class ModuleFactory implements MethodInstance {
        private final O options;

        ModuleFactory(O options) {
            this.options = requireNonNull(options, "options is null");
        }

        @Override
        public boolean accepts(Site site) {
            return descriptor.attachesTo(site);
        }

        @Override
        public MethodModule attach(Site site) {
            return module(options, requireKind(site));
        }

        @Override
        public long trainableParameterCount(List<Site> sites) {
            long count = 0;
            for (Site site : requireNonNull(sites, "sites is null")) {
                count += parameterCount(options, requireKind(site));
            }
            return count;
        }

        @Override
        public Optional<Map<String, Object>> optionsForRanks(Map<String, Integer> ranksBySite) {
            return AbstractPeftMethod.this.optionsForRanks(options, requireNonNull(ranksBySite, "ranksBySite is null"));
        }

        private Site requireKind(Site site) {
            requireNonNull(site, "site is null");
            if (!descriptor.attachesTo(site)) {
                throw new IllegalArgumentException(String.format("Method '%s' attaches to %s sites only, but %s is a %s site",
                        descriptor.id(), kinds(), site.name(), site.kind()));
            }
            return site;
        }

        private String kinds() {
            return String.join(" and ", descriptor.siteKinds().stream().sorted().map(kind -> kind.name().toLowerCase(java.util.Locale.ROOT)).toList());
        }
    }
}
