package dev.graft.plugin.prefix;

import com.google.auto.service.AutoService;
import dev.graft.spi.AbstractPeftMethod;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;

/**
 * Prefix tuning (Li and Liang 2021) with Hugging Face PEFT's semantics, options and checkpoint: every attention layer
 * gets n trainable virtual keys and values in front of its real (rotated) keys and values; they are always visible and
 * shift real positions by n. With grouped-query attention the prefix has the key/value heads' width
 * {@code d = kvHeads·headDim}, as PEFT.
 *
 * <p>The prefix is one flat tensor {@code (n, layers·2·d)}, trained directly or, with {@code prefix_projection},
 * produced by an MLP. Either way the checkpoint holds the flat tensor as the single key {@code prompt_embeddings},
 * with {@code peft_type: PREFIX_TUNING}, so adapters move between Graft and PEFT. A flat checkpoint loaded into a
 * projection adapter is used as is, for inference: the MLP is frozen and unused (see
 * {@link PrefixTuningInstance#loadSharedState}). Prefix tuning does not merge into base weights.
 */
@AutoService(PeftMethod.class)
public final class PrefixTuningMethod extends AbstractPeftMethod<PrefixConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public PrefixTuningMethod() {
        super(PrefixConfiguration.class, describe()
                .setId(PrefixConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("PREFIX_TUNING")
                .setSiteKinds(SiteKind.ATTENTION)
                .setModuleType(PrefixTuningModule.class)
                .setDescription("Prefix tuning: n trainable virtual keys/values per attention layer (Hugging Face PEFT compatible, optional MLP projection)"));
    }

    /**
     * A prefix-tuning adapter sized to {@code model}'s layers and key/value heads, whose shared encoder the modules read.
     *
     * @throws dev.graft.spi.InvalidOptionsException for a model-size field that does not match the model
     */
    @Override
    protected MethodInstance createInstance(PrefixConfiguration options, ModelContext model) {
        options.checkModel(model.numLayers(), model.numKeyValueHeads(), model.headDim());
        return new PrefixTuningInstance(new PrefixEncoder(options, model.numLayers(), model.numKeyValueHeads(), model.headDim()));
    }
}
