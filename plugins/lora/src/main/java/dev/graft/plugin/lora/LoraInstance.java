package dev.graft.plugin.lora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;

import java.util.List;

/** One LoRA adapter on one model: a {@link LoraModule} per selected linear site, ranks and alphas per site. */
final class LoraInstance implements MethodInstance {
    private final LoraConfiguration configuration;

    LoraInstance(LoraConfiguration configuration) {
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    @Override
    public boolean accepts(Site site) {
        return requireNonNull(site, "site is null") instanceof LinearSite;
    }

    @Override
    public LoraModule attach(Site site) {
        LinearSite linear = linear(site);
        return new LoraModule(
                linear,
                configuration.rankFor(linear.name()),
                configuration.scalingFor(linear.name()),
                (float) configuration.dropout(),
                configuration.initialization(),
                configuration.loraBias());
    }

    /** {@code Σ r·(in + out)} over the sites, plus {@code out} per site with {@code lora_bias}. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : requireNonNull(sites, "sites is null")) {
            LinearSite linear = linear(site);
            long rank = configuration.rankFor(linear.name());
            count += rank * (linear.inFeatures() + linear.outFeatures());
            if (configuration.loraBias()) {
                count += linear.outFeatures();
            }
        }
        return count;
    }

    private static LinearSite linear(Site site) {
        requireNonNull(site, "site is null");
        if (!(site instanceof LinearSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to linear sites only, but %s is a %s site", LoraConfiguration.METHOD_ID, site.name(), site.kind()));
        }
        return (LinearSite) site;
    }
}
