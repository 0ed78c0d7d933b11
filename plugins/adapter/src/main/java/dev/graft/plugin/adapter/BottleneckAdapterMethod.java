package dev.graft.plugin.adapter;

import static java.util.Objects.requireNonNull;

import com.google.auto.service.AutoService;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.Map;
import java.util.Set;

/**
 * Bottleneck adapters (Houlsby et al. 2019, Pfeiffer et al. 2020, He et al. 2021) with AdapterHub's presets and option
 * names: at each selected attention or feed-forward sublayer, {@code h' = h + s·up(f(down(z)))} before the residual
 * add, with {@code z = h} (serial) or the sublayer's normalised input (parallel). The default initialization
 * ({@code mam_adapter}) zeroes the up-projection, so a fresh adapter leaves the model unchanged.
 *
 * <p>Hugging Face PEFT has no bottleneck adapters; Graft saves them in PEFT's layout under its own
 * {@code peft_type: BOTTLENECK}, with module keys {@code base_model.model.<sublayer>.adapter_down.weight},
 * {@code ...adapter_down.bias}, {@code ...adapter_up.weight} and {@code ...adapter_up.bias}, where {@code <sublayer>}
 * is {@code model.layers.<i>.self_attn} or {@code model.layers.<i>.mlp}. Adapters do not merge into base weights.
 *
 * <p>On pre-norm decoders (Llama) the serial presets read the sublayer output {@code h}, as AdapterHub's Houlsby
 * placement; AdapterHub's post-norm details ({@code original_ln_before}, {@code residual_before_ln}) have no
 * counterpart there and are not options.
 */
@AutoService(PeftMethod.class)
public final class BottleneckAdapterMethod implements PeftMethod {
    private static final MethodDescriptor DESCRIPTOR = new MethodDescriptor(
            BottleneckConfiguration.METHOD_ID,
            "0.1.0",
            SpiVersion.CURRENT,
            "BOTTLENECK",
            Set.of(SiteKind.SUBLAYER),
            BottleneckAdapterModule.class,
            BottleneckConfiguration.SCHEMA,
            Map.of(),
            "Bottleneck adapters: h + s·up(f(down(h))) at attention/feed-forward sublayers (AdapterHub presets pfeiffer, houlsby, parallel)");

    /** Creates the provider; it holds no tensors. */
    public BottleneckAdapterMethod() {}

    @Override
    public MethodDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /**
     * Creates a bottleneck adapter.
     *
     * @throws dev.graft.spi.InvalidOptionsException for a {@code reduction_factor} that is not greater than 0, a
     *         non-finite {@code scaling}, {@code dropout} outside {@code [0, 1)}, {@code mh_adapter} and
     *         {@code output_adapter} both false, or {@code leave_out} indices outside the model's layers
     */
    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        return new BottleneckAdapterInstance(BottleneckConfiguration.fromOptions(options, model.numLayers()));
    }
}
