package dev.graft.plugin.ia3;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static java.lang.String.format;
import static dev.graft.spi.LinearModuleBlock.requireLinear;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.List;

/**
 * One IA³ adapter on one model: an {@link Ia3Module} per targeted linear site, feed-forward (input scaled) where
 * the site's name matches {@code feedforward_modules}, output scaled elsewhere.
 */
public final class Ia3Instance implements MethodInstance {
    private final Ia3Configuration configuration;
    private final FeedForwardModules feedForwardModules;

    /**
     * An adapter with {@code configuration} on a model whose feed-forward modules are {@code feedForwardModules}
     * (the given ones, or PEFT's default for the model type).
     */
    public Ia3Instance(Ia3Configuration configuration, FeedForwardModules feedForwardModules) {
        this.configuration = requireNonNull(configuration, "configuration is null");
        this.feedForwardModules = requireNonNull(feedForwardModules, "feedForwardModules is null");
    }

    /**
     * Checks PEFT's rule that {@code feedforward_modules} is a subset of the targets: every entry given explicitly
     * must match one of {@code sites}. PEFT's per-model default is not checked, as in PEFT.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the entry that matches no target
     */
    @Override
    public void prepare(List<Site> sites) {
        requireNonNull(sites, "sites is null");
        if (!configuration.explicitFeedforwardModules()) {
            return;
        }
        for (String entry : feedForwardModules.entries()) {
            FeedForwardModules single = FeedForwardModules.ofList(List.of(entry));
            if (sites.stream().noneMatch(site -> single.matches(site.name()))) {
                List<String> names = new ArrayList<>();
                sites.forEach(site -> names.add(site.name()));
                throw invalidValue(Ia3Configuration.METHOD_ID, "feedforward_modules", feedForwardModules,
                        format("a subset of the target modules, but entry '%s' matches none of the targets %s", entry, names));
            }
        }
    }

    @Override
    public MethodModule attach(Site site) {
        LinearSite linear = requireLinear(site, Ia3Configuration.METHOD_ID);
        return new Ia3Module(linear, isFeedForward(linear), configuration.initIa3Weights());
    }

    /** Whether IA³ scales the input of {@code site} (a feed-forward site) rather than its output. */
    public boolean isFeedForward(LinearSite site) {
        return feedForwardModules.matches(site.name());
    }

    /** {@code in} per feed-forward site, {@code out} per other site. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : sites) {
            LinearSite linear = requireLinear(site, Ia3Configuration.METHOD_ID);
            count += isFeedForward(linear) ? linear.inFeatures() : linear.outFeatures();
        }
        return count;
    }
}
