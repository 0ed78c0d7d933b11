package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a method is: its id, version, the SPI version it was built against, where it attaches, whether it
 * merges into base weights, its options, and PEFT's default target modules per model type.
 *
 * @param id a lower-case identifier, unique among loaded methods (e.g. {@code lora}); also the plugin folder name
 * @param version the plugin's own version
 * @param spiVersion pass {@link SpiVersion#CURRENT}: the compiler inlines it, recording the SPI built against
 * @param peftType the {@code peft_type} written to and read from {@code adapter_config.json} (e.g. {@code LORA})
 * @param siteKinds the kinds of sites the method attaches to
 * @param mergeable whether the method's modules can merge into (and unmerge from) base weights
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
        boolean mergeable,
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
}
