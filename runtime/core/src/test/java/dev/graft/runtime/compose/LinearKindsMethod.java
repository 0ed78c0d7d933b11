package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MergeableLinearModule;
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
import java.util.Random;
import java.util.Set;

/**
 * A test method of each kind a linear site composes, with fixed non-zero values drawn from a seeded {@link Random}
 * (not any paper's init, which would often leave the output unchanged), so two models get identical adapters.
 */
final class LinearKindsMethod implements PeftMethod {
    /** The kind of module the method attaches. */
    enum Kind {
        /** LoRA-like: {@code delta(x) = x·Aᵀ·Bᵀ}, scaling 0.5; merges {@code ΔW = 0.5·B·A}. */
        LOW_RANK,
        /** IA³-like on the input: {@code x ⊙ l}. */
        INPUT_SCALE,
        /** IA³-like on the output: {@code y ⊙ l}. */
        OUTPUT_SCALE,
        /** A weight transform {@code ΔW = W ⊙ c}, with {@code c} one factor per output row. */
        WEIGHT_DELTA
    }

    private final Kind kind;
    private final long seed;

    LinearKindsMethod(Kind kind, long seed) {
        this.kind = requireNonNull(kind, "kind is null");
        this.seed = seed;
    }

    @Override
    public MethodDescriptor descriptor() {
        String id = kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        Class<? extends MethodModule> moduleType = kind == Kind.LOW_RANK ? MergeableLinearModule.class : MethodModule.class;
        return new MethodDescriptor(id, "1.0.0", SpiVersion.CURRENT, kind.name(), Set.of(SiteKind.LINEAR), moduleType, OptionSchema.of(), Map.of(),
                "a fixed test module of kind " + kind);
    }

    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        return new MethodInstance() {
            @Override
            public MethodModule attach(Site site) {
                LinearSite linear = LinearModuleBlock.requireLinear(site, descriptor().id());
                long siteSeed = seed * 31 + site.name().hashCode();
                return switch (kind) {
                    case LOW_RANK -> new FixedLinearModules.LowRank(linear, siteSeed);
                    case INPUT_SCALE -> new FixedLinearModules.Scale(linear, ScalingLinearModule.Side.INPUT, siteSeed);
                    case OUTPUT_SCALE -> new FixedLinearModules.Scale(linear, ScalingLinearModule.Side.OUTPUT, siteSeed);
                    case WEIGHT_DELTA -> new FixedLinearModules.WeightDelta(linear, siteSeed);
                };
            }

            @Override
            public long trainableParameterCount(List<Site> sites) {
                long count = 0;
                for (Site site : sites) {
                    LinearSite linear = (LinearSite) site;
                    count += switch (kind) {
                        case LOW_RANK -> (long) FixedLinearModules.RANK * (linear.inFeatures() + linear.outFeatures());
                        case INPUT_SCALE -> linear.inFeatures();
                        case OUTPUT_SCALE, WEIGHT_DELTA -> linear.outFeatures();
                    };
                }
                return count;
            }
        };
    }
}
