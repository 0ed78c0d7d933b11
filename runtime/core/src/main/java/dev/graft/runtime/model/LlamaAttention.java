package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.Casts;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.spi.Dropouts;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Scalars;

/**
 * Llama self-attention with grouped-query attention and rotary embeddings, as Hugging Face's eager attention:
 * scores in the input's precision, then in float32 the additive mask (the float32 minimum where masked) and the
 * softmax, so half-precision activations never meet an infinite mask.
 * Prefix keys/values (from the attention site) sit before the real ones, unrotated, visible to every row (under a
 * row routing, only to the rows of their adapter; a gated prefix with its gate's weight). In training the probabilities go
 * through dropout ({@code attention_dropout}, 0 in most Llama configs).
 */
final class LlamaAttention extends AbstractBlock {
    private static final byte VERSION = 1;

    final LinearSiteBlock queryProjection;
    final LinearSiteBlock keyProjection;
    final LinearSiteBlock valueProjection;
    final LinearSiteBlock outputProjection;
    final SiteAttachments prefixSite;
    private final int heads;
    private final int keyValueHeads;
    private final int headDim;
    private final float dropout;

    LlamaAttention(String prefix, int layer, LlamaConfig config) {
        super(VERSION);
        heads = config.numAttentionHeads();
        keyValueHeads = config.numKeyValueHeads();
        headDim = config.headDim();
        dropout = (float) config.attentionDropout();
        int hidden = config.hiddenSize();
        queryProjection = addChildBlock("q_proj", new LinearSiteBlock(new LinearSite(prefix + ".q_proj", layer, hidden, heads * headDim, config.attentionBias())));
        keyProjection = addChildBlock("k_proj", new LinearSiteBlock(new LinearSite(prefix + ".k_proj", layer, hidden, keyValueHeads * headDim, config.attentionBias())));
        valueProjection = addChildBlock("v_proj", new LinearSiteBlock(new LinearSite(prefix + ".v_proj", layer, hidden, keyValueHeads * headDim, config.attentionBias())));
        outputProjection = addChildBlock("o_proj", new LinearSiteBlock(new LinearSite(prefix + ".o_proj", layer, heads * headDim, hidden, config.attentionBias())));
        prefixSite = new SiteAttachments(new AttentionSite(prefix, layer, heads, keyValueHeads, headDim));
    }

    /**
     * @param x the normalised hidden states {@code (batch, sequence, hidden)}
     * @param attentionMask {@code (batch, sequence)}, 1 for real tokens and 0 for padding
     * @param cos rotary cosines {@code (batch or 1, 1, sequence, headDim)}
     * @param sin rotary sines, same shape
     */
    NDArray forward(ParameterStore parameterStore, NDArray x, NDArray attentionMask, NDArray cos, NDArray sin, boolean training) {
        long batch = x.getShape().get(0);
        long sequence = x.getShape().get(1);
        NDArray query = RotaryEmbedding.apply(split(queryProjection.forward(parameterStore, x, training), batch, sequence, heads), cos, sin);
        NDArray key = RotaryEmbedding.apply(split(keyProjection.forward(parameterStore, x, training), batch, sequence, keyValueHeads), cos, sin);
        NDArray value = split(valueProjection.forward(parameterStore, x, training), batch, sequence, keyValueHeads);
        long prefixLength = 0;
        NDArray prefixWeights = null;
        NDList prefix = SiteOps.prefix(parameterStore, prefixSite, x, training);
        if (prefix != null) {
            prefixLength = prefix.get(0).getShape().get(2);
            prefixWeights = prefix.size() > 2 ? prefix.get(2) : null;
            key = NDArrays.concat(new NDList(Casts.toType(prefix.get(0), key.getDataType()), key), 2);
            value = NDArrays.concat(new NDList(Casts.toType(prefix.get(1), value.getDataType()), value), 2);
        }
        int repeats = heads / keyValueHeads;
        if (repeats > 1) {
            key = key.repeat(1, repeats);
            value = value.repeat(1, repeats);
        }
        // the queries are scaled rather than the scores: (batch, heads, sequence, head_dim) values instead of (…, sequence, keys)
        NDArray scores = Scalars.times(query, (float) (1.0 / Math.sqrt(headDim))).matMul(key.transpose(0, 1, 3, 2));
        NDArray masked = Casts.toType(scores, DataType.FLOAT32).add(maskBias(x.getManager(), attentionMask, sequence, prefixLength, prefixWeights));
        NDArray probabilities = Dropouts.apply(Casts.toType(masked.softmax(-1), query.getDataType()), dropout, training);
        NDArray context = probabilities.matMul(value).transpose(0, 2, 1, 3).reshape(batch, sequence, (long) heads * headDim);
        return outputProjection.forward(parameterStore, context, training);
    }

    private NDArray split(NDArray projected, long batch, long sequence, int headCount) {
        return projected.reshape(batch, sequence, headCount, headDim).transpose(0, 2, 1, 3);
    }

    /**
     * The additive mask {@code (batch, 1, sequence, prefix + sequence)}: 0 where allowed, the float minimum elsewhere,
     * {@code log w} on prefix keys of weight {@code w} in (0, 1). Prefix keys are visible to every row, or with the
     * weights {@code prefixWeights} {@code (batch, prefix)} where given (a gate's value, 0 in rows routed elsewhere);
     * {@code attentionMask} may carry weights too (a gated prompt's positions).
     */
    static NDArray maskBias(NDManager manager, NDArray attentionMask, long sequence, long prefixLength, NDArray prefixWeights) {
        long batch = attentionMask.getShape().get(0);
        long keys = prefixLength + sequence;
        NDArray keyMask = Casts.toType(attentionMask, DataType.FLOAT32);
        if (prefixLength > 0) {
            NDArray prefixKeys = prefixWeights == null ? manager.ones(new Shape(batch, prefixLength)) : Casts.toType(prefixWeights, DataType.FLOAT32);
            keyMask = NDArrays.concat(new NDList(prefixKeys, keyMask), 1);
        }
        NDArray queryIndex = manager.arange(0f, (float) sequence).reshape(sequence, 1).add((float) prefixLength);
        NDArray keyIndex = manager.arange(0f, (float) keys).reshape(1, keys);
        NDArray causal = keyIndex.lte(queryIndex).toType(DataType.FLOAT32, false).expandDims(0).expandDims(0);
        return SiteOps.attentionBias(causal.mul(keyMask.reshape(batch, 1, 1, keys)));
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("LlamaAttention is driven by its decoder layer");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
