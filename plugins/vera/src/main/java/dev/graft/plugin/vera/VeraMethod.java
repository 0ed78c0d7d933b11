package dev.graft.plugin.vera;

import com.google.auto.service.AutoService;
import dev.graft.spi.AbstractPeftMethod;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;

import java.util.List;
import java.util.Map;

/**
 * Vector-based random matrix adaptation (VeRA, Kopiczko et al. 2024) with Hugging Face PEFT's semantics, options
 * and checkpoint layout. One pair of frozen random projections is shared by every targeted linear layer, sized to
 * the largest target ({@code vera_A (r × max_in)}, {@code vera_B (max_out × r)}); each layer trains only two
 * vectors, {@code vera_lambda_b (out)} (initially 0) and {@code vera_lambda_d (r)} (initially {@code d_initial}),
 * so {@code out + r} parameters per layer:
 * <pre>
 *   y = x·Wᵀ + b + λ_b ⊙ ((λ_d ⊙ (dropout(x)·A_sᵀ))·B_sᵀ)      A_s = vera_A[:, :in], B_s = vera_B[:out, :]
 * </pre>
 * Merging adds {@code (λ_b·B_s)(λ_d·A_s)} to {@code W}.
 *
 * <p>Checkpoints hold {@code base_model.model.<module>.vera_lambda_b}, {@code ...vera_lambda_d} and, with
 * {@code save_projection: true} (the default), {@code base_model.vera_A} and {@code base_model.vera_B}. The
 * projections are PEFT's for the same {@code projection_prng_key}, bit for bit (torch's CPU generator reproduced, see
 * {@link VeraProjections}), so an adapter saved without them ({@code save_projection: false}) regenerates PEFT's
 * projections on either side, and one saved with them means the same in PEFT releases that drop the saved copies and
 * regenerate them from the key. {@code fan_in_fan_out: true} and a {@code bias} other than {@code "none"} are not
 * supported.
 *
 * <p>The modules read the adapter's shared projections, so the adapter ({@link VeraInstance}) makes them.
 */
@AutoService(PeftMethod.class)
public final class VeraMethod extends AbstractPeftMethod<VeraConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public VeraMethod() {
        super(VeraConfiguration.class, describe()
                .setId(VeraConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("VERA")
                .setSiteKinds(SiteKind.LINEAR)
                .setModuleType(VeraModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value"),
                        "roberta", List.of("query", "value")))
                .setDescription("VeRA: shared frozen random projections scaled by trainable vectors, out + r parameters per linear layer (Hugging Face PEFT compatible)"));
    }

    /** An adapter that owns the shared projections and makes a {@link VeraModule} per site from them. */
    @Override
    protected MethodInstance createInstance(VeraConfiguration options, ModelContext model) {
        return new VeraInstance(options);
    }

}
