package dev.graft.plugin.lora;

import static java.util.Objects.requireNonNull;

import com.google.auto.service.AutoService;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Low-rank adaptation (LoRA, Hu et al. 2021) with Hugging Face PEFT's semantics, options and checkpoint layout:
 * each targeted linear layer gets {@code y = x·Wᵀ + b + s·B(A(dropout(x)))} with {@code A (r×in)},
 * {@code B (out×r)} and {@code s = α/r} (or {@code α/√r} with {@code use_rslora}). Supports {@code rank_pattern} and
 * {@code alpha_pattern}, the {@code true}, {@code "gaussian"} and {@code false} initializations, {@code lora_bias},
 * dropout, and merging into the base weights. DoRA, {@code fan_in_fan_out} and bias training are rejected.
 *
 * <p>Adapters save as PEFT's {@code adapter_model.safetensors} keys
 * ({@code base_model.model.<module>.lora_A.weight}, {@code ...lora_B.weight}) with {@code peft_type: LORA}.
 */
@AutoService(PeftMethod.class)
public final class LoraMethod implements PeftMethod {
    private static final MethodDescriptor DESCRIPTOR = new MethodDescriptor(
            LoraConfiguration.METHOD_ID,
            "0.1.0",
            SpiVersion.CURRENT,
            "LORA",
            Set.of(SiteKind.LINEAR),
            true,
            LoraConfiguration.SCHEMA,
            Map.of(
                    "llama", List.of("q_proj", "v_proj"),
                    "bert", List.of("query", "value"),
                    "roberta", List.of("query", "value")),
            "Low-rank adaptation: W + (α/r)·B·A on linear layers (Hugging Face PEFT compatible, rsLoRA, rank/alpha patterns)");

    /** Creates the provider; it holds no tensors. */
    public LoraMethod() {}

    @Override
    public MethodDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /**
     * Creates a LoRA adapter.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code r <= 0}, {@code lora_dropout} outside {@code [0, 1)},
     *         non-positive or fractional pattern ranks, non-positive pattern alphas, pattern keys that are not
     *         regular expressions, {@code bias} other than {@code "none"}, {@code fan_in_fan_out: true} or
     *         {@code use_dora: true}
     */
    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        return new LoraInstance(LoraConfiguration.fromOptions(options));
    }
}
