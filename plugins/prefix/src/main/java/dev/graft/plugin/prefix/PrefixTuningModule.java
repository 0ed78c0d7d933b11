package dev.graft.plugin.prefix;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.PrefixKeyValues;
import dev.graft.spi.PrefixModule;

/**
 * Prefix tuning at one attention layer: that layer's slice of the adapter's shared {@link PrefixEncoder}, as virtual
 * keys and values {@code (kvHeads, n, headDim)}. It has no parameters of its own, so it saves nothing per site: the
 * adapter saves the whole flat prefix as {@code prompt_embeddings}.
 */
final class PrefixTuningModule extends AbstractBlock implements PrefixModule {
    private static final byte VERSION = 1;

    private final AttentionSite site;
    private final PrefixEncoder encoder;

    PrefixTuningModule(AttentionSite site, PrefixEncoder encoder) {
        super(VERSION);
        this.site = requireNonNull(site, "site is null");
        this.encoder = requireNonNull(encoder, "encoder is null");
    }

    @Override
    public AttentionSite site() {
        return site;
    }

    @Override
    public int numVirtualTokens() {
        return encoder.numVirtualTokens();
    }

    @Override
    public PrefixKeyValues keyValues(ParameterStore parameterStore, NDArray like, boolean training) {
        return encoder.keyValues(parameterStore, site.layerIndex(), like, training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        PrefixKeyValues keyValues = keyValues(parameterStore, inputs.singletonOrThrow(), training);
        return new NDList(keyValues.keys(), keyValues.values());
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape shape = new Shape(site.numKeyValueHeads(), encoder.numVirtualTokens(), site.headDim());
        return new Shape[] {shape, shape};
    }
}
