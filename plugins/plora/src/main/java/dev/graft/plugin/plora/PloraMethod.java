package dev.graft.plugin.plora;

import com.google.auto.service.AutoService;
import dev.graft.spi.LinearMethod;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;

import java.util.List;
import java.util.Map;

/**
 * PeriodicLoRA (PLoRA, Meng et al. 2024, arXiv 2402.16141): LoRA whose update is periodically offloaded into the
 * base weight, after which the adapter starts again, so the accumulated update {@code W_now − W_0} exceeds rank
 * {@code r} while training only LoRA's parameters.
 *
 * <p>Each targeted linear site gets LoRA's {@code y = x·Wᵀ + b + s·B(A(dropout(x)))} with {@code A (r×in)}
 * Kaiming-uniform ({@code U(±1/√in)}), {@code B (out×r)} zero and {@code s = lora_alpha/r} (or
 * {@code lora_alpha/√r} with {@code use_rslora}). When a {@link dev.graft.spi.TrainingEvent.StepEnd}'s count of
 * samples (or steps, with {@code offload_unit: steps}) crosses a multiple of {@code offload_every}:
 * <ol>
 *   <li>{@code W ← W + (1 − m)·s·B·A}, computed in float32, through
 *       {@link dev.graft.spi.TrainingContext#setLinearWeights};</li>
 *   <li>the adapter keeps the share {@code m}: with {@code m = 0}, {@code B ← 0} and {@code A} gets a fresh
 *       Kaiming-uniform draw; with {@code m > 0}, {@code B ← m·B} and {@code A} is kept;</li>
 *   <li>with {@code optimizer_state: reset} (the default), the optimizer state of {@code A} and {@code B} is reset
 *       through {@link dev.graft.spi.TrainingContext#resetOptimizerState}.</li>
 * </ol>
 * Steps 1 and 2 together leave the model's function unchanged at the moment of the offload:
 * {@code (W + (1−m)·s·BA) + s·(mB)·A = W + s·BA}.
 *
 * <p><b>What is ours, not the paper's.</b> Only the paper's abstract was available: it says the LoRA weights are
 * unloaded into the backbone at the end of each stage and re-initialised, and that a momentum-based unloading is
 * used for stability. The exact momentum formula, the interval and the optimizer handling are not known to us, so
 * these are our choices: the interval in samples (default 4800) or steps; the momentum rule above (only {@code B}
 * is scaled, so the offload is function-preserving; the public third-party implementation in
 * {@code hhnqqq/MyTransformers} scales both {@code A} and {@code B} by {@code 1 − m} after adding {@code m·s·BA},
 * which changes the function, since its delta becomes {@code (m + (1−m)²)·s·BA}); {@code m} as the share the
 * adapter keeps, so {@code m = 0} is the plain unload-and-reinitialise of the abstract; and resetting the optimizer
 * state by default, as a secondary summary of the paper reports.
 *
 * <p>Offloads happen only while the adapter is trainable; the model must be running it unmerged, ungated and
 * active (the SPI does not tell a method its adapter's state; see the plugin's report).
 *
 * <p>Checkpoints use LoRA's keys ({@code base_model.model.<module>.lora_A.weight}, {@code ...lora_B.weight}) and
 * {@code peft_type: PLORA}; after training, the accumulated update lives in the base weights, so a PLoRA run is
 * exported as a merged model (the final stage's adapter merges like LoRA).
 */
@AutoService(PeftMethod.class)
public final class PloraMethod extends LinearMethod<PloraConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public PloraMethod() {
        super(PloraConfiguration.class, describe()
                .setId(PloraConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("PLORA")
                .setModuleType(PloraModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value"),
                        "roberta", List.of("query", "value")))
                .setDescription("PeriodicLoRA: LoRA whose update is offloaded into the base weight every offload_every samples, then restarted"));
    }

    /** An adapter that keeps its modules and offloads them on training events. */
    @Override
    protected MethodInstance createInstance(PloraConfiguration options, ModelContext model) {
        return new PloraInstance(this, options);
    }

    /** LoRA's module: rank {@code r}, scaling {@code s}, dropout, Kaiming-uniform {@code A} and zero {@code B}. */
    @Override
    protected PloraModule module(PloraConfiguration options, LinearSite site) {
        requireRankWithinLayer(PloraConfiguration.METHOD_ID, "r", options.rank(), site);
        return PloraModule.builder(site).setRank(options.rank()).optScaling(options.scaling()).optDropout((float) options.dropout()).build();
    }

    /** {@code r·(in + out)}. */
    @Override
    protected long parameterCount(PloraConfiguration options, LinearSite site) {
        return (long) options.rank() * (site.inFeatures() + site.outFeatures());
    }
}
