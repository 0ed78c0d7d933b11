package dev.graft.runtime.model;

import static java.util.Objects.requireNonNull;

import dev.graft.runtime.compose.FixedLinearModules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Test-only methods of every module kind, with fixed non-zero seeded values, for per-row routing tests: each
 * attaches at one site kind and builds its modules with a function of the site.
 */
final class RoutedMethods {
    private RoutedMethods() {}

    /** A method {@code id} attaching {@code factory}'s module at every site of {@code kind}. */
    static PeftMethod method(String id, SiteKind kind, Class<? extends MethodModule> moduleType, Function<Site, MethodModule> factory) {
        requireNonNull(factory, "factory is null");
        MethodDescriptor descriptor = new MethodDescriptor(id, "1.0.0", SpiVersion.CURRENT, id.toUpperCase(java.util.Locale.ROOT).replace('-', '_'), Set.of(kind),
                moduleType, OptionSchema.of(), Map.of(), "a fixed test module, for routing tests");
        return new PeftMethod() {
            @Override
            public MethodDescriptor descriptor() {
                return descriptor;
            }

            @Override
            public MethodInstance create(MethodOptions options, ModelContext model) {
                return new MethodInstance() {
                    @Override
                    public MethodModule attach(Site site) {
                        return factory.apply(site);
                    }

                    @Override
                    public long trainableParameterCount(List<Site> sites) {
                        return 0;
                    }
                };
            }
        };
    }

    /** {@link FixedLinearModules.LowRank} at {@code site}, seeded by {@code seed} and the site's name. */
    static MethodModule lowRank(Site site, long seed) {
        return new FixedLinearModules.LowRank((LinearSite) site, seed + site.name().hashCode());
    }

    /** {@link FixedLinearModules.Scale} on {@code side} at {@code site}, seeded by {@code seed} and the site's name. */
    static MethodModule scale(Site site, ScalingLinearModule.Side side, long seed) {
        return new FixedLinearModules.Scale((LinearSite) site, side, seed + site.name().hashCode());
    }

    /** {@link FixedLinearModules.WeightDelta} at {@code site}, seeded by {@code seed} and the site's name. */
    static MethodModule weightDelta(Site site, long seed) {
        return new FixedLinearModules.WeightDelta((LinearSite) site, seed + site.name().hashCode());
    }
}
