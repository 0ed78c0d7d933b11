package com.example.graft.diagonal;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;

import java.util.List;

/** One diagonal adapter on one model: a {@link DiagonalModule} per selected linear site. */
final class DiagonalInstance implements MethodInstance {
    private final float initStd;

    DiagonalInstance(float initStd) {
        this.initStd = initStd;
    }

    @Override
    public boolean accepts(Site site) {
        return requireNonNull(site, "site is null") instanceof LinearSite;
    }

    @Override
    public DiagonalModule attach(Site site) {
        return new DiagonalModule(linear(site), initStd);
    }

    /** {@code Σ min(in, out)} over the sites. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : requireNonNull(sites, "sites is null")) {
            count += DiagonalModule.diagonalLength(linear(site));
        }
        return count;
    }

    private static LinearSite linear(Site site) {
        requireNonNull(site, "site is null");
        if (!(site instanceof LinearSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to linear sites only, but %s is a %s site", DiagonalMethod.ID, site.name(), site.kind()));
        }
        return (LinearSite) site;
    }
}
