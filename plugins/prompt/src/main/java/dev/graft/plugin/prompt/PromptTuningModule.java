package dev.graft.plugin.prompt;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.PromptModule;

/**
 * Prompt tuning at the embedding site: the adapter's shared {@code prompt_embeddings} {@code (n, hidden)}, prepended
 * by the runtime to every sequence. It has no parameters of its own, so it saves nothing per site: the adapter saves
 * {@code prompt_embeddings} as PEFT's single key.
 */
final class PromptTuningModule extends AbstractBlock implements PromptModule {
    private static final byte VERSION = 1;

    private final EmbeddingSite site;
    private final Parameter promptEmbeddings;

    PromptTuningModule(EmbeddingSite site, Parameter promptEmbeddings) {
        super(VERSION);
        this.site = requireNonNull(site, "site is null");
        this.promptEmbeddings = requireNonNull(promptEmbeddings, "promptEmbeddings is null");
    }

    @Override
    public EmbeddingSite site() {
        return site;
    }

    @Override
    public int numVirtualTokens() {
        return (int) promptEmbeddings.getShape().get(0);
    }

    /**
     * The virtual tokens {@code (n, hidden)}, a new array attached to {@code like}'s manager (a view would belong to the
     * model's manager, where the parameter lives).
     */
    @Override
    public NDArray virtualTokens(ParameterStore parameterStore, NDArray like, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(like, "like is null");
        if (like.getShape().dimension() == 0 || like.getShape().getLastDimension() != site.hiddenSize()) {
            throw new IllegalArgumentException(format("prompt tuning at %s: embeddings have shape %s, but their last dimension must be hidden=%d",
                    site.name(), like.getShape(), site.hiddenSize()));
        }
        try (NDManager scope = like.getManager().newSubManager()) {
            NDArray value = parameterStore.getValue(promptEmbeddings, like.getDevice(), training);
            if (value.getManager() != scope) {
                scope.tempAttachAll(value);
            }
            return scope.ret(value.toType(like.getDataType(), true));
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(virtualTokens(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {promptEmbeddings.getShape()};
    }
}
