package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Scalars;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;

import java.util.List;
import java.util.Optional;

/**
 * One adapter's module at one site, with its optional gate and its state: active (used in forward) and
 * merged (folded into the base weight, so skipped in forward).
 */
public final class Attachment {
    private final String adapterName;
    private final String methodId;
    private final MethodModule module;
    private final Gate gate;
    private final List<Parameter> sharedParameters;
    private final ClassLoader classLoader;
    private boolean active = true;
    private boolean merged;
    private float blockWeight = 1f;
    private boolean averaged;
    private int stackPosition = -1;

    public Attachment(String adapterName, String methodId, MethodModule module, Gate gate) {
        this(adapterName, methodId, module, gate, List.of());
    }

    /**
     * @param sharedParameters the adapter's shared parameters the module may read; the runtime scopes them with
     *        the module's own during forward and merge
     */
    public Attachment(String adapterName, String methodId, MethodModule module, Gate gate, List<Parameter> sharedParameters) {
        this(adapterName, methodId, module, gate, sharedParameters, ThreadContextClassLoader.classLoaderOf(requireNonNull(module, "module is null")));
    }

    /**
     * @param classLoader the class loader of the module's plugin: the thread context class loader whenever the
     *        runtime calls the module
     */
    public Attachment(String adapterName, String methodId, MethodModule module, Gate gate, List<Parameter> sharedParameters, ClassLoader classLoader) {
        this.classLoader = requireNonNull(classLoader, "classLoader is null");
        this.adapterName = requireNonNull(adapterName, "adapterName is null");
        this.methodId = requireNonNull(methodId, "methodId is null");
        this.module = requireNonNull(module, "module is null");
        this.gate = gate;
        this.sharedParameters = List.copyOf(requireNonNull(sharedParameters, "sharedParameters is null"));
    }

    /** The adapter's shared parameters (empty for most methods). */
    public List<Parameter> sharedParameters() {
        return sharedParameters;
    }

    /** The class loader of the module's plugin. */
    public ClassLoader classLoader() {
        return classLoader;
    }

    /**
     * Makes the module's plugin class loader the thread's context class loader until the returned object is
     * closed: wrap every call into the module with it.
     */
    public ThreadContextClassLoader enterPlugin() {
        return new ThreadContextClassLoader(classLoader);
    }

    public String adapterName() {
        return adapterName;
    }

    public String methodId() {
        return methodId;
    }

    public MethodModule module() {
        return module;
    }

    /** The gate of a gated composition; empty under plain (sum) composition. */
    public Optional<Gate> gate() {
        return Optional.ofNullable(gate);
    }

    public boolean isActive() {
        return active;
    }

    public void setActive(boolean active) {
        this.active = active;
    }

    public boolean isMerged() {
        return merged;
    }

    void setMerged(boolean merged) {
        this.merged = merged;
    }

    /**
     * The weight of this adapter in an {@link Average} block: its additive terms, sublayer deltas and weight deltas
     * are multiplied by it, its scales {@code l} become {@code 1 + w·(l − 1)}; 1 outside an average.
     */
    public float blockWeight() {
        return blockWeight;
    }

    /** Whether this adapter takes part in an active {@link Average} block. */
    public boolean isAveraged() {
        return averaged;
    }

    /** Makes this adapter part of an {@link Average} block with weight {@code weight}. */
    public void setAverageWeight(float weight) {
        if (!Float.isFinite(weight)) {
            throw new IllegalArgumentException(format("adapter '%s': an average weight must be finite, found %s", adapterName, weight));
        }
        this.blockWeight = weight;
        this.averaged = true;
    }

    /** Takes this adapter out of any composition block: weight 1, no stack position. */
    public void leaveBlock() {
        blockWeight = 1f;
        averaged = false;
        stackPosition = -1;
    }

    /** The position of this adapter in a {@link Stack} block, or -1 outside a stack. */
    public int stackPosition() {
        return stackPosition;
    }

    /** Makes this adapter the {@code stackPosition}-th of a {@link Stack} block. */
    public void setStackPosition(int stackPosition) {
        this.stackPosition = stackPosition;
    }

    /** {@code term · blockWeight}, the term itself under weight 1. */
    NDArray weighted(NDArray term) {
        return blockWeight == 1f ? term : Scalars.times(term, blockWeight);
    }

    /** A scale's weighted deviation from identity under an average block: {@code w·(l − 1)}. */
    NDArray weightedDeviation(NDArray scale) {
        return Scalars.times(scale.sub(1f), blockWeight);
    }

    /** Whether forward must compute this module: active and not merged into the base. */
    public boolean isLive() {
        return active && !merged;
    }
}
