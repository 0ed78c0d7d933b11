package com.example.graft.diagonal;

import static dev.graft.spi.LinearModuleBlock.requireLinear;
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
        return new DiagonalModule(requireLinear(site, DiagonalMethod.ID), initStd);
    }

    /** {@code Σ min(in, out)} over the sites. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : requireNonNull(sites, "sites is null")) {
            count += DiagonalModule.diagonalLength(requireLinear(site, DiagonalMethod.ID));
        }
        return count;
    }
}
