package dev.graft.plugin.prompt;

import static java.lang.String.format;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import com.google.auto.service.AutoService;
import dev.graft.spi.AbstractPeftMethod;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;

/**
 * Prompt tuning (Lester et al. 2021) with Hugging Face PEFT's semantics, options and checkpoint: n trainable virtual
 * token embeddings are prepended to every input's embeddings; the attention mask gets n ones, positions count them,
 * and the model returns logits for the real tokens only. The checkpoint is the single key {@code prompt_embeddings}
 * {@code (n, hidden)} with {@code peft_type: PROMPT_TUNING}. Prompt tuning does not merge into base weights.
 *
 * <p>{@code TEXT} initialization tokenizes {@code prompt_tuning_init_text} with the model's own tokenizer, without
 * special tokens; {@code tokenizer_name_or_path} is accepted and ignored. (PEFT loads the named tokenizer and keeps its
 * special tokens, e.g. Llama's leading BOS, so its TEXT prompt can start one token earlier in the text.)
 */
@AutoService(PeftMethod.class)
public final class PromptTuningMethod extends AbstractPeftMethod<PromptConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public PromptTuningMethod() {
        super(PromptConfiguration.class, describe()
                .setId(PromptConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("PROMPT_TUNING")
                .setSiteKinds(SiteKind.EMBEDDING)
                .setModuleType(PromptTuningModule.class)
                .setDescription("Prompt tuning: n trainable virtual token embeddings prepended to the input (Hugging Face PEFT compatible)"));
    }

    /**
     * A prompt-tuning adapter whose prompt embeddings start from {@code model}'s embedding table as the options say. For
     * {@code TEXT} the text is tokenized here, so a missing tokenizer fails before any tensor is made.
     *
     * @throws InvalidOptionsException for a model-size field that does not match the model, or {@code TEXT} without a
     *         tokenizer or with a text that has no tokens
     */
    @Override
    protected MethodInstance createInstance(PromptConfiguration options, ModelContext model) {
        options.checkModel(model.hiddenSize(), model.numLayers(), model.numAttentionHeads());
        return new PromptTuningInstance(options.numVirtualTokens(), model.hiddenSize(), initializer(options, model));
    }

    private static Initializer initializer(PromptConfiguration configuration, ModelContext model) {
        switch (configuration.init()) {
            case RANDOM:
                return new NormalInitializer(1);
            case TEXT:
                return EmbeddingRowsInitializer.ofTokens(model, EmbeddingRowsInitializer.repeatOrCut(textTokens(configuration, model), configuration.numVirtualTokens()));
            case SAMPLE_VOCAB:
                return EmbeddingRowsInitializer.sampledFromVocabulary(model);
        }
        throw new AssertionError(configuration.init());
    }

    private static long[] textTokens(PromptConfiguration configuration, ModelContext model) {
        long[] tokens;
        try {
            tokens = model.tokenize(configuration.initText());
        }
        catch (IllegalStateException e) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is TEXT, but the model cannot tokenize '%s': %s. Load the model with its tokenizer, or use RANDOM or SAMPLE_VOCAB.",
                    PromptConfiguration.METHOD_ID, PromptConfiguration.PROMPT_TUNING_INIT, PromptConfiguration.PROMPT_TUNING_INIT_TEXT, e.getMessage()));
        }
        if (tokens.length == 0) {
            throw new InvalidOptionsException(format("Method '%s': option '%s' is \"%s\", which has no tokens. Use a text with at least one token.",
                    PromptConfiguration.METHOD_ID, PromptConfiguration.PROMPT_TUNING_INIT_TEXT, configuration.initText()));
        }
        for (long token : tokens) {
            if (token < 0 || token >= model.vocabularySize()) {
                throw new InvalidOptionsException(format("Method '%s': option '%s' tokenizes to id %d, outside the model's vocabulary of %d. "
                        + "Does the tokenizer belong to this model?", PromptConfiguration.METHOD_ID, PromptConfiguration.PROMPT_TUNING_INIT_TEXT, token,
                        model.vocabularySize()));
            }
        }
        return tokens;
    }
}
