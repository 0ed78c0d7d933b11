package dev.graft.plugin.bone;

import static java.lang.String.format;
import static dev.graft.spi.LinearModuleBlock.requireLinear;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;

import java.util.List;

/**
 * One Bone adapter on one model: a {@link BoneModule} (Bone) or a {@link BatModule} (Bat) per targeted linear site,
 * {@code r·out} trainable parameters each.
 */
public final class BoneInstance implements MethodInstance {
    private final BoneConfiguration configuration;

    /** An adapter with validated {@code configuration}. */
    public BoneInstance(BoneConfiguration configuration) {
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    @Override
    public boolean accepts(Site site) {
        return site instanceof LinearSite;
    }

    /**
     * For Bat, checks that every target divides into {@code r × r} blocks, before any tensor is made.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the first target whose {@code in} or {@code out} is not a
     *         multiple of {@code r}
     */
    @Override
    public void prepare(List<Site> sites) {
        requireNonNull(sites, "sites is null");
        if (configuration.variant() != BoneVariant.BAT) {
            return;
        }
        int rank = configuration.rank();
        for (Site site : sites) {
            LinearSite linear = requireLinear(site, BoneConfiguration.METHOD_ID);
            if (linear.inFeatures() % rank != 0 || linear.outFeatures() % rank != 0) {
                throw BoneConfiguration.invalid("r", rank, format(
                        "a divisor of every target's in and out features with init_weights \"bat\", but %s has in=%d, out=%d; "
                                + "choose another r or use init_weights true", site.name(), linear.inFeatures(), linear.outFeatures()));
            }
        }
    }

    @Override
    public MethodModule attach(Site site) {
        LinearSite linear = requireLinear(site, BoneConfiguration.METHOD_ID);
        if (configuration.variant() == BoneVariant.BAT) {
            return new BatModule(linear, configuration.rank());
        }
        return new BoneModule(linear, configuration.rank(), configuration.variant() == BoneVariant.BONE_RANDOM, (float) configuration.dropout());
    }

    /** {@code r·out} per linear site, for Bone and Bat alike. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : sites) {
            count += (long) configuration.rank() * requireLinear(site, BoneConfiguration.METHOD_ID).outFeatures();
        }
        return count;
    }
}
