package dev.graft.plugin.adapter;

import com.google.auto.service.AutoService;
import dev.graft.spi.AbstractPeftMethod;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SublayerSite;

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
public final class BottleneckAdapterMethod extends AbstractPeftMethod<BottleneckConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public BottleneckAdapterMethod() {
        super(BottleneckConfiguration.class, describe()
                .setId(BottleneckConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("BOTTLENECK")
                .setSiteKinds(SiteKind.SUBLAYER)
                .setModuleType(BottleneckAdapterModule.class)
                .setDescription("Bottleneck adapters: h + s·up(f(down(h))) at attention/feed-forward sublayers (AdapterHub presets pfeiffer, houlsby, parallel)"));
    }

    /**
     * Checks {@code leave_out} against the model's layers, then makes the adapter.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code leave_out} indices outside the model's layers, or all of them
     */
    @Override
    protected MethodInstance createInstance(BottleneckConfiguration options, ModelContext model) {
        options.checkLayers(model.numLayers());
        return super.createInstance(options, model);
    }

    /** Feed-forward sublayers with {@code output_adapter}, attention sublayers with {@code mh_adapter}, except {@code leave_out} layers. */
    @Override
    protected boolean accepts(BottleneckConfiguration options, Site site) {
        return options.adapts(((SublayerSite) site).sublayer(), site.layerIndex());
    }

    @Override
    protected BottleneckAdapterModule module(BottleneckConfiguration options, Site site) {
        SublayerSite sublayer = (SublayerSite) site;
        return BottleneckAdapterModule.builder(sublayer)
                .setBottleneck(options.bottleneckSize(sublayer.hiddenSize()))
                .optNonLinearity(options.activation())
                .optScaling((float) options.outputScaling())
                .optDropout((float) options.dropout())
                .optParallel(options.parallel())
                .optInitialization(options.initialization())
                .build();
    }

    /** {@code 2·h·d + d + h}, with {@code h} the sublayer width and {@code d} the bottleneck width. */
    @Override
    protected long parameterCount(BottleneckConfiguration options, Site site) {
        long hidden = ((SublayerSite) site).hiddenSize();
        long bottleneck = options.bottleneckSize(((SublayerSite) site).hiddenSize());
        return 2 * hidden * bottleneck + bottleneck + hidden;
    }
}
