package dev.graft.plugin.prefix;

import static java.util.Objects.requireNonNull;

import com.google.auto.service.AutoService;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.PromptLearningFields;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.Map;
import java.util.Set;

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
public final class PrefixTuningMethod implements PeftMethod {
    private static final MethodDescriptor DESCRIPTOR = new MethodDescriptor(
            PrefixConfiguration.METHOD_ID,
            "0.1.0",
            SpiVersion.CURRENT,
            "PREFIX_TUNING",
            Set.of(SiteKind.ATTENTION),
            PrefixTuningModule.class,
            PrefixConfiguration.SCHEMA,
            Map.of(),
            "Prefix tuning: n trainable virtual keys/values per attention layer (Hugging Face PEFT compatible, optional MLP projection)");

    /** Creates the provider; it holds no tensors. */
    public PrefixTuningMethod() {}

    @Override
    public MethodDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /**
     * Creates a prefix-tuning adapter sized to {@code model}'s layers and key/value heads.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code num_virtual_tokens} or {@code encoder_hidden_size} not
     *         greater than 0
     */
    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        PrefixConfiguration configuration = PrefixConfiguration.fromOptions(options);
        PromptLearningFields.check(PrefixConfiguration.METHOD_ID, options, model.numKeyValueHeads() * model.headDim(), model.numLayers(), model.numKeyValueHeads());
        return new PrefixTuningInstance(new PrefixEncoder(configuration, model.numLayers(), model.numKeyValueHeads(), model.headDim()));
    }
}
