package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a method is: its id, version, the SPI version it was built against, where it attaches, the type of its
 * modules (which tells whether it merges into base weights), its options, and PEFT's default target modules per model
 * type. Build one with {@link #builder()} (or let {@link AbstractPeftMethod} do it).
 *
 * @param id a lower-case identifier, unique among loaded methods (e.g. {@code lora}); also the plugin folder name
 * @param version the plugin's own version
 * @param spiVersion the SPI version the plugin was compiled against: {@link AbstractPeftMethod#SPI_VERSION} (or
 *        {@link SpiVersion#CURRENT}) named in the plugin's code, where the compiler inlines it
 * @param peftType the {@code peft_type} written to and read from {@code adapter_config.json} (e.g. {@code LORA})
 * @param siteKinds the kinds of sites the method attaches to
 * @param moduleType the type of the method's modules (their common supertype when there are several): the one fact
 *        that says whether the method merges (see {@link #mergeable()})
 * @param options the option schema, with defaults and docs
 * @param defaultTargets PEFT's default {@code target_modules} by model type ({@code llama}, {@code bert}); may be empty
 * @param description one line for {@code graft methods}
 */
public record MethodDescriptor(
        String id,
        String version,
        String spiVersion,
        String peftType,
        Set<SiteKind> siteKinds,
        Class<? extends MethodModule> moduleType,
        OptionSchema options,
        Map<String, List<String>> defaultTargets,
        String description) {
    private static final Pattern ID = Pattern.compile("[a-z][a-z0-9_-]*");

    public MethodDescriptor {
        requireNonNull(id, "id is null");
        requireNonNull(version, "version is null");
        requireNonNull(spiVersion, "spiVersion is null");
        requireNonNull(peftType, "peftType is null");
        requireNonNull(siteKinds, "siteKinds is null");
        requireNonNull(moduleType, "moduleType is null");
        requireNonNull(options, "options is null");
        requireNonNull(defaultTargets, "defaultTargets is null");
        requireNonNull(description, "description is null");
        if (!ID.matcher(id).matches()) {
            throw new IllegalArgumentException(format("method id '%s' must match %s", id, ID.pattern()));
        }
        if (siteKinds.isEmpty()) {
            throw new IllegalArgumentException(format("method '%s' must attach to at least one site kind", id));
        }
        siteKinds = Set.copyOf(EnumSet.copyOf(siteKinds));
        defaultTargets = Map.copyOf(defaultTargets);
    }

    /**
     * Whether the method's modules can merge into (and unmerge from) base weights: whether {@link #moduleType} is a
     * {@link MergeableLinearModule}. {@code graft methods}, the runtime's merge and the conformance kit read this.
     */
    public boolean mergeable() {
        return MergeableLinearModule.class.isAssignableFrom(moduleType);
    }

    /** Whether the method attaches to sites of {@code site}'s kind. */
    public boolean attachesTo(Site site) {
        return siteKinds.contains(requireNonNull(site, "site is null").kind());
    }

    /** A builder; {@code setX} for what is required, {@code optX} for what has a default. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link MethodDescriptor}. Every {@code setX} is required. */
    public static final class Builder {
        private String id;
        private String version;
        private String spiVersion;
        private String peftType;
        private Set<SiteKind> siteKinds;
        private Class<? extends MethodModule> moduleType;
        private OptionSchema options = OptionSchema.of();
        private Class<? extends Record> optionsType;
        private Map<String, List<String>> defaultTargets = Map.of();
        private String description;

        private Builder() {}

        /** The method id, lower case, unique among loaded methods. */
        public Builder setId(String id) {
            this.id = id;
            return this;
        }

        /** The plugin's own version. */
        public Builder setVersion(String version) {
            this.version = version;
            return this;
        }

        /**
         * The SPI version compiled against (required): pass {@code SPI_VERSION} from a subclass of
         * {@link AbstractPeftMethod} (or {@link SpiVersion#CURRENT}); the compiler inlines the constant in the plugin's code.
         */
        public Builder setSpiVersion(String spiVersion) {
            this.spiVersion = spiVersion;
            return this;
        }

        /** PEFT's {@code peft_type}, or the method's own upper-case name. */
        public Builder setPeftType(String peftType) {
            this.peftType = peftType;
            return this;
        }

        /** The kinds of sites the method attaches to. */
        public Builder setSiteKinds(SiteKind first, SiteKind... others) {
            this.siteKinds = EnumSet.of(first, others);
            return this;
        }

        /** The type of the method's modules; {@link #mergeable()} follows from it. */
        public Builder setModuleType(Class<? extends MethodModule> moduleType) {
            this.moduleType = moduleType;
            return this;
        }

        /** The options record, whose {@link Option} components give the schema. No options by default. */
        public Builder optOptions(Class<? extends Record> optionsType) {
            this.optionsType = requireNonNull(optionsType, "optionsType is null");
            this.options = OptionSchema.of(optionsType);
            return this;
        }

        /** The option schema, for a method that does not declare its options with a record. */
        public Builder optOptions(OptionSchema options) {
            this.optionsType = null;
            this.options = requireNonNull(options, "options is null");
            return this;
        }

        /** PEFT's default {@code target_modules} by model type. None by default. */
        public Builder optDefaultTargets(Map<String, List<String>> defaultTargets) {
            this.defaultTargets = defaultTargets;
            return this;
        }

        /** One line for {@code graft methods}. */
        public Builder setDescription(String description) {
            this.description = description;
            return this;
        }

        /** The options record given to {@link #optOptions(Class)}, or null. */
        Class<? extends Record> optionsType() {
            return optionsType;
        }

        /** The descriptor. */
        public MethodDescriptor build() {
            if (spiVersion == null) {
                throw new NullPointerException(format("spiVersion is null: method '%s' must call setSpiVersion(SPI_VERSION) in its constructor", id));
            }
            return new MethodDescriptor(id, version, spiVersion, peftType, siteKinds, moduleType, options, defaultTargets, description);
        }
    }
}
