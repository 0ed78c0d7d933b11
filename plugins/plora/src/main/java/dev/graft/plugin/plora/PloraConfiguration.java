package dev.graft.plugin.plora;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;

import java.util.List;
import java.util.Locale;

/**
 * PeriodicLoRA's validated options. LoRA's options keep PEFT's field names and defaults; the offload options are
 * ours, since PEFT has no PeriodicLoRA.
 *
 * @param rank {@code r}
 * @param alpha {@code lora_alpha}
 * @param dropout {@code lora_dropout}
 * @param useRslora {@code use_rslora}
 * @param offloadEvery {@code offload_every}, in {@link #offloadUnit} units
 * @param offloadUnit {@code offload_unit}
 * @param momentum {@code momentum}: the share {@code m} of the update the adapter keeps at an offload
 * @param optimizerState {@code optimizer_state}
 */
public record PloraConfiguration(
        int rank,
        double alpha,
        double dropout,
        boolean useRslora,
        int offloadEvery,
        OffloadUnit offloadUnit,
        double momentum,
        OptimizerStatePolicy optimizerState) {
    /** The method id, named in every option error. */
    public static final String METHOD_ID = "plora";

    /** The option schema, with PEFT's LoRA defaults. */
    public static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.integer("r", 8, "LoRA rank r of each stage's update B·A; must be at least 1"),
            OptionSpec.number("lora_alpha", 8.0, "LoRA alpha; the update is scaled by lora_alpha/r (lora_alpha/sqrt(r) with use_rslora); must be positive"),
            OptionSpec.number("lora_dropout", 0.0, "dropout probability on the adapter's input while training, in [0, 1)"),
            OptionSpec.bool("use_rslora", false, "rank-stabilised LoRA: scale by lora_alpha/sqrt(r) instead of lora_alpha/r"),
            OptionSpec.integer("offload_every", 4800, "offload the update into the base weight every this many samples (or steps, see offload_unit); at least 1"),
            OptionSpec.choice("offload_unit", OffloadUnit.SAMPLES.optionValue(), List.of(OffloadUnit.SAMPLES.optionValue(), OffloadUnit.STEPS.optionValue()),
                    "what offload_every counts: training samples or optimizer steps"),
            OptionSpec.number("momentum", 0.0, "share m of the update the adapter keeps at an offload (W gets 1-m of it, B is scaled by m; m=0 re-initialises the adapter), in [0, 1)"),
            OptionSpec.choice("optimizer_state", OptimizerStatePolicy.RESET.optionValue(),
                    List.of(OptimizerStatePolicy.RESET.optionValue(), OptimizerStatePolicy.KEEP.optionValue()),
                    "at an offload, reset the optimizer state (moments, step counts) of the adapter's parameters, or keep it"));

    public PloraConfiguration {
        requireNonNull(offloadUnit, "offloadUnit is null");
        requireNonNull(optimizerState, "optimizerState is null");
        if (rank <= 0) {
            throw invalid("r", rank, "a whole number of at least 1");
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw invalid("lora_alpha", alpha, "a positive finite number");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid("lora_dropout", dropout, "a number in [0, 1)");
        }
        if (offloadEvery <= 0) {
            throw invalid("offload_every", offloadEvery, "a whole number of at least 1");
        }
        if (!(momentum >= 0 && momentum < 1)) {
            throw invalid("momentum", momentum, "a number in [0, 1)");
        }
    }

    /**
     * Reads validated options.
     *
     * @throws InvalidOptionsException naming the method, the key, the value and what is allowed, for a value out of range
     */
    public static PloraConfiguration fromOptions(MethodOptions options) {
        requireNonNull(options, "options is null");
        return new PloraConfiguration(
                options.getInt("r"),
                options.getDouble("lora_alpha"),
                options.getDouble("lora_dropout"),
                options.getBoolean("use_rslora"),
                options.getInt("offload_every"),
                choice(OffloadUnit.class, options.getString("offload_unit")),
                options.getDouble("momentum"),
                choice(OptimizerStatePolicy.class, options.getString("optimizer_state")));
    }

    /** {@code s = α/r}, or {@code α/√r} with rsLoRA. */
    public float scaling() {
        return (float) (useRslora ? alpha / Math.sqrt(rank) : alpha / rank);
    }

    /** The constant of {@code type} whose lower-case name is {@code value}, a value the schema's choices allowed. */
    private static <E extends Enum<E>> E choice(Class<E> type, String value) {
        return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
    }

    private static InvalidOptionsException invalid(String key, Object value, String allowed) {
        return new InvalidOptionsException(format("Method '%s': option '%s' is %s, but must be %s.", METHOD_ID, key, value, allowed));
    }
}
