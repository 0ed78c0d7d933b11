package dev.graft.plugin.plora;

import static java.util.Objects.requireNonNull;

import dev.graft.spi.Option;

import java.util.Locale;

/**
 * PeriodicLoRA's options, declared once (the SPI checks types and ranges). LoRA's options keep PEFT's field names and
 * defaults; the offload options are ours, since PEFT has no PeriodicLoRA.
 *
 * @param rank {@code r}
 * @param alpha {@code lora_alpha}
 * @param dropout {@code lora_dropout}
 * @param useRslora {@code use_rslora}
 * @param offloadEvery {@code offload_every}, in {@link #unit()} units
 * @param offloadUnit {@code offload_unit}; see {@link #unit()}
 * @param momentum {@code momentum}: the share {@code m} of the update the adapter keeps at an offload
 * @param optimizerState {@code optimizer_state}; see {@link #statePolicy()}
 */
public record PloraConfiguration(
        @Option(name = "r", defaultValue = "8", minimum = 1, description = "LoRA rank r of each stage's update B·A; must be at least 1")
        int rank,
        @Option(name = "lora_alpha", defaultValue = "8.0", minimum = 0, minimumExclusive = true,
                description = "LoRA alpha; the update is scaled by lora_alpha/r (lora_alpha/sqrt(r) with use_rslora); must be positive")
        double alpha,
        @Option(name = "lora_dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "dropout probability on the adapter's input while training, in [0, 1)")
        double dropout,
        @Option(name = "use_rslora", defaultValue = "false", description = "rank-stabilised LoRA: scale by lora_alpha/sqrt(r) instead of lora_alpha/r")
        boolean useRslora,
        @Option(name = "offload_every", defaultValue = "4800", minimum = 1,
                description = "offload the update into the base weight every this many samples (or steps, see offload_unit); at least 1")
        int offloadEvery,
        @Option(name = "offload_unit", defaultValue = "samples", allowed = {"samples", "steps"},
                description = "what offload_every counts: training samples or optimizer steps")
        String offloadUnit,
        @Option(name = "momentum", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true,
                description = "share m of the update the adapter keeps at an offload (W gets 1-m of it, B is scaled by m; m=0 re-initialises the adapter), in [0, 1)")
        double momentum,
        @Option(name = "optimizer_state", defaultValue = "reset", allowed = {"reset", "keep"},
                description = "at an offload, reset the optimizer state (moments, step counts) of the adapter's parameters, or keep it")
        String optimizerState) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "plora";

    public PloraConfiguration {
        requireNonNull(offloadUnit, "offloadUnit is null");
        requireNonNull(optimizerState, "optimizerState is null");
    }

    /** What {@code offload_every} counts. */
    public OffloadUnit unit() {
        return OffloadUnit.valueOf(offloadUnit.toUpperCase(Locale.ROOT));
    }

    /** What an offload does to the optimizer state. */
    public OptimizerStatePolicy statePolicy() {
        return OptimizerStatePolicy.valueOf(optimizerState.toUpperCase(Locale.ROOT));
    }

    /** {@code s = α/r}, or {@code α/√r} with rsLoRA. */
    public float scaling() {
        return (float) (useRslora ? alpha / Math.sqrt(rank) : alpha / rank);
    }
}
