package dev.graft.plugin.plora;

import static dev.graft.spi.LinearModuleBlock.requireLinear;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;
import dev.graft.spi.TrainingContext;
import dev.graft.spi.TrainingEvent;

import java.util.ArrayList;
import java.util.List;

/**
 * One PeriodicLoRA adapter on one model: a {@link PloraModule} per targeted linear site, and the offload schedule.
 * On every {@link TrainingEvent.StepEnd} whose count (samples seen, or steps) crosses a multiple of
 * {@code offload_every}, each module's update is offloaded (see {@link PloraMethod}).
 */
public final class PloraInstance implements MethodInstance {
    private final PloraMethod method;
    private final PloraConfiguration configuration;
    private final List<PloraModule> modules = new ArrayList<>();
    private int offloads;

    /** An adapter of {@code method}, which makes and counts its modules, with validated {@code configuration}. */
    PloraInstance(PloraMethod method, PloraConfiguration configuration) {
        this.method = requireNonNull(method, "method is null");
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    /** The adapter's configuration. */
    public PloraConfiguration configuration() {
        return configuration;
    }

    /** How many offloads have happened so far. */
    public int offloads() {
        return offloads;
    }

    @Override
    public MethodModule attach(Site site) {
        LinearSite linear = requireLinear(site, PloraConfiguration.METHOD_ID);
        PloraModule module = method.module(configuration, linear);
        modules.add(module);
        return module;
    }

    /** {@code r·(in + out)} per linear site. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : sites) {
            count += method.parameterCount(configuration, requireLinear(site, PloraConfiguration.METHOD_ID));
        }
        return count;
    }

    /**
     * Offloads at a step end that crosses a multiple of {@code offload_every}; ignores other events, and does
     * nothing while the adapter is frozen (another adapter is training).
     */
    @Override
    public void onEvent(TrainingEvent event, TrainingContext context) {
        requireNonNull(event, "event is null");
        requireNonNull(context, "context is null");
        if (!(event instanceof TrainingEvent.StepEnd) || modules.isEmpty() || !isTrainable()) {
            return;
        }
        TrainingEvent.StepEnd stepEnd = (TrainingEvent.StepEnd) event;
        if (crossesOffloadBoundary(stepEnd)) {
            offload(context);
        }
    }

    /** Whether the counter of this step end passed a multiple of {@code offload_every} during the step. */
    boolean crossesOffloadBoundary(TrainingEvent.StepEnd stepEnd) {
        long now = configuration.unit() == OffloadUnit.SAMPLES ? stepEnd.samplesSeen() : stepEnd.step();
        long increment = configuration.unit() == OffloadUnit.SAMPLES ? stepEnd.batchSize() : 1;
        long before = Math.max(0, now - increment);
        return now / configuration.offloadEvery() > before / configuration.offloadEvery();
    }

    /**
     * Folds {@code (1 − m)·s·B·A} of every module into its site's base weight (in float32), leaves {@code m} of the
     * update in the adapter, and, with {@code optimizer_state: reset}, resets the optimizer state of the adapter's
     * parameters. The model's function is unchanged by it.
     */
    void offload(TrainingContext context) {
        float momentum = (float) configuration.momentum();
        for (PloraModule module : modules) {
            LinearWeights current = context.linearWeights(module.site());
            NDArray weight = current.weight();
            try (NDManager scope = weight.getManager().newSubManager()) {
                scope.tempAttachAll(weight);
                LinearWeights updated = module.offloaded(current, 1 - momentum);
                context.setLinearWeights(module.site(), updated);
            }
            module.keepShare(momentum);
        }
        if (configuration.statePolicy() == OptimizerStatePolicy.RESET) {
            context.resetOptimizerState(parameters());
        }
        offloads++;
    }

    private boolean isTrainable() {
        return modules.get(0).trainableParameters().get(0).requiresGradient();
    }

    private List<Parameter> parameters() {
        List<Parameter> parameters = new ArrayList<>();
        for (PloraModule module : modules) {
            parameters.addAll(module.trainableParameters());
        }
        return List.copyOf(parameters);
    }
}
