package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The base of a method: a descriptor and a factory. A subclass passes its descriptor (id, version, SPI version, PEFT
 * type, site kinds, module type, default targets, description) and its options record ({@link Option} components) to
 * the constructor, and implements {@link #module} and {@link #parameterCount} ({@link LinearMethod} makes them
 * abstract). The runtime validates raw options against the record's schema; {@link #create} binds them to the record
 * and makes an adapter that attaches one module per selected site. Override {@link #accepts} to attach at fewer sites, {@link #checkSites} to refuse targets before
 * any tensor is made, and {@link #createInstance} to check options against the model or for a method with state shared
 * by its modules (VeRA's projections, prefix tuning's encoder, PeriodicLoRA's events).
 *
 * <p><b>The SPI version.</b> Pass {@link #SPI_VERSION}, unqualified, to {@code setSpiVersion} in the subclass's
 * constructor: it is a compile-time constant, so javac copies its value into the plugin's own class file, and the
 * version the plugin reports is the one of the SPI it was compiled against, not the one of the runtime that loads it.
 *
 * <p>Register the concrete class with {@code @AutoService(PeftMethod.class)}; it needs a public no-argument constructor.
 *
 * @param <O> the options record
 */
public abstract class AbstractPeftMethod<O extends Record> implements PeftMethod {
    /**
     * The SPI version this plugin is compiled against ({@link SpiVersion#CURRENT}); pass it to
     * {@link MethodDescriptor.Builder#setSpiVersion} from the subclass, where the compiler inlines it.
     */
    protected static final String SPI_VERSION = SpiVersion.CURRENT;

    private final Class<O> optionsType;
    private final MethodDescriptor descriptor;

    /**
     * A method with options {@code optionsType} and the descriptor being built by {@code descriptor} (its options are
     * set here from {@code optionsType}). The builder must have {@code setSpiVersion(SPI_VERSION)}.
     *
     * @throws NullPointerException if a required part of the descriptor, the SPI version included, is missing
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

    /**
     * Whether the adapter attaches a module at {@code site}, one of the sites the runtime selected: every site of the
     * descriptor's kinds by default. Override to leave some out (the bottleneck adapter's placement options).
     */
    protected boolean accepts(O options, Site site) {
        return descriptor.attachesTo(site);
    }

    /**
     * Checks the adapter's targets, all of them, before any module is made: throw
     * {@link InvalidOptionsException#wrongTogether} for options that do not fit a target. Accepts any by default.
     *
     * @param sites the accepted sites, each of the descriptor's kinds
     */
    protected void checkSites(O options, List<Site> sites) {}

    /**
     * The module at {@code site} (one of the descriptor's kinds). Set its parameters' shapes and initializers. Every
     * method implements it, except one whose {@link #createInstance} makes its modules from shared state.
     *
     * @throws UnsupportedOperationException unless overridden
     */
    protected MethodModule module(O options, Site site) {
        throw new UnsupportedOperationException(format("Method '%s' must override module(options, site) or createInstance(options, model)", id()));
    }

    /**
     * The number of trainable parameters of the module at {@code site}, by the method's formula (not by counting).
     * Every method implements it, except one whose {@link #createInstance} counts by itself.
     *
     * @throws UnsupportedOperationException unless overridden
     */
    protected long parameterCount(O options, Site site) {
        throw new UnsupportedOperationException(format("Method '%s' must override parameterCount(options, site) or createInstance(options, model)", id()));
    }

    /**
     * The raw options of an adapter of this method whose low-rank modules have rank {@code ranksBySite} and scaling 1;
     * see {@link MethodInstance#optionsForRanks}. Empty by default.
     */
    protected Optional<Map<String, Object>> optionsForRanks(O options, Map<String, Integer> ranksBySite) {
        return Optional.empty();
    }

    /**
     * The raw options of the plain adapter an adapter with {@code options} ({@code rawOptions} as raw values) converts
     * to; see {@link MethodInstance#optionsForConvertedState}. Empty by default.
     */
    protected Optional<Map<String, Object>> optionsForConvertedState(O options, Map<String, Object> rawOptions) {
        return Optional.empty();
    }

    private final class ModuleFactory implements MethodInstance {
        private final O options;

        ModuleFactory(O options) {
            this.options = requireNonNull(options, "options is null");
        }

        @Override
        public boolean accepts(Site site) {
            return descriptor.attachesTo(requireNonNull(site, "site is null")) && AbstractPeftMethod.this.accepts(options, site);
        }

        @Override
        public void prepare(List<Site> sites) {
            requireNonNull(sites, "sites is null");
            for (Site site : sites) {
                requireKind(site);
            }
            checkSites(options, List.copyOf(sites));
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

        @Override
        public Optional<Map<String, Object>> optionsForConvertedState(Map<String, Object> rawOptions) {
            return AbstractPeftMethod.this.optionsForConvertedState(options, requireNonNull(rawOptions, "rawOptions is null"));
        }

        private Site requireKind(Site site) {
            requireNonNull(site, "site is null");
            if (!descriptor.attachesTo(site)) {
                throw new IllegalArgumentException(format("Method '%s' attaches to %s sites only, but %s is a %s site",
                        descriptor.id(), kinds(), site.name(), site.kind()));
            }
            return site;
        }

        private String kinds() {
            return String.join(" and ", descriptor.siteKinds().stream().sorted().map(kind -> kind.name().toLowerCase(Locale.ROOT)).toList());
        }
    }
}
