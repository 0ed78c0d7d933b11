package dev.graft.plugin.adapter;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;
import dev.graft.spi.SublayerSite;

import java.util.List;

/** One bottleneck adapter on one model: a {@link BottleneckAdapterModule} per sublayer its placement options select. */
final class BottleneckAdapterInstance implements MethodInstance {
    private final BottleneckConfiguration configuration;

    BottleneckAdapterInstance(BottleneckConfiguration configuration) {
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    /** Feed-forward sublayers with {@code output_adapter}, attention sublayers with {@code mh_adapter}, except {@code leave_out} layers. */
    @Override
    public boolean accepts(Site site) {
        requireNonNull(site, "site is null");
        return site instanceof SublayerSite && configuration.adapts(((SublayerSite) site).sublayer(), site.layerIndex());
    }

    @Override
    public BottleneckAdapterModule attach(Site site) {
        SublayerSite sublayer = sublayer(site);
        return new BottleneckAdapterModule(
                sublayer,
                configuration.bottleneckSize(sublayer.hiddenSize()),
                configuration.nonLinearity(),
                (float) configuration.scaling(),
                (float) configuration.dropout(),
                configuration.parallel(),
                configuration.initialization());
    }

    /** {@code Σ 2·h·d + d + h} over the sites, with {@code h} the sublayer width and {@code d} the bottleneck width. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : requireNonNull(sites, "sites is null")) {
            long hidden = sublayer(site).hiddenSize();
            long bottleneck = configuration.bottleneckSize(sublayer(site).hiddenSize());
            count += 2 * hidden * bottleneck + bottleneck + hidden;
        }
        return count;
    }

    private static SublayerSite sublayer(Site site) {
        requireNonNull(site, "site is null");
        if (!(site instanceof SublayerSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to sublayer sites only, but %s is a %s site", BottleneckConfiguration.METHOD_ID, site.name(), site.kind()));
        }
        return (SublayerSite) site;
    }
}
