package dev.graft.runtime.plugin;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.Map;
import java.util.Set;

/** A method that only describes itself; tests use it to fill registries without plugin jars. */
public final class FakeMethod implements PeftMethod {
    private final MethodDescriptor descriptor;

    public FakeMethod(MethodDescriptor descriptor) {
        this.descriptor = requireNonNull(descriptor, "descriptor is null");
    }

    /** A linear, mergeable method with {@code id}, version 1.0.0, the current SPI and peft type {@code peftType}. */
    public static FakeMethod of(String id, String peftType) {
        return new FakeMethod(new MethodDescriptor(id, "1.0.0", SpiVersion.CURRENT, peftType, Set.of(SiteKind.LINEAR), dev.graft.spi.MergeableLinearModule.class, OptionSchema.of(), Map.of(), "a fake " + id));
    }

    /** This method as loaded from {@code source}. */
    public LoadedMethod loadedFrom(String source) {
        return new LoadedMethod(this, descriptor, source, FakeMethod.class.getClassLoader());
    }

    @Override
    public MethodDescriptor descriptor() {
        return descriptor;
    }

    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        throw new UnsupportedOperationException("a fake method makes no instances");
    }
}
