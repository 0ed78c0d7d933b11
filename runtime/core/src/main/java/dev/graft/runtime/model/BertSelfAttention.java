package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
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
 * BERT's bidirectional self-attention ({@code BertSelfAttention}): {@code softmax(q·kᵀ / sqrt(d) + mask)·v} over
 * every head, with Hugging Face's additive mask; scores and softmax in float32. Prefix keys/values (from the
 * attention site) sit before the real ones, as Hugging Face's {@code past_key_values}, visible to every query, a
 * gated prefix's with its gate's weight ({@link SiteOps#attentionBias}). In training the probabilities go through
 * dropout ({@code attention_probs_dropout_prob}), as in Hugging Face's.
 */
final class BertSelfAttention extends AbstractBlock {
    private static final byte VERSION = 1;

    final LinearSiteBlock query;
    final LinearSiteBlock key;
    final LinearSiteBlock value;
    final SiteAttachments prefixSite;
    private final int heads;
    private final int headDim;
    private final float dropout;

    BertSelfAttention(String prefix, int layer, BertConfig config) {
        super(VERSION);
        heads = config.numAttentionHeads();
        headDim = config.headDim();
        dropout = (float) config.attentionDropout();
        int hidden = config.hiddenSize();
        query = addChildBlock("query", new LinearSiteBlock(new LinearSite(prefix + ".query", layer, hidden, hidden, true)));
        key = addChildBlock("key", new LinearSiteBlock(new LinearSite(prefix + ".key", layer, hidden, hidden, true)));
        value = addChildBlock("value", new LinearSiteBlock(new LinearSite(prefix + ".value", layer, hidden, hidden, true)));
        prefixSite = new SiteAttachments(new AttentionSite(prefix, layer, heads, heads, headDim));
    }

    /**
     * @param x the layer input {@code (batch, sequence, hidden)}
     * @param maskBias the additive mask over the real (and prompt) keys {@code (batch, 1, 1, sequence)}, float32
     * @return the attention context {@code (batch, sequence, hidden)}, before the output projection
     */
    NDArray forward(ParameterStore parameterStore, NDArray x, NDArray maskBias, boolean training) {
        long batch = x.getShape().get(0);
        long sequence = x.getShape().get(1);
        NDArray queries = split(query.forward(parameterStore, x, training), batch, sequence);
        NDArray keys = split(key.forward(parameterStore, x, training), batch, sequence);
        NDArray values = split(value.forward(parameterStore, x, training), batch, sequence);
        NDArray bias = maskBias;
        NDList prefix = SiteOps.prefix(parameterStore, prefixSite, x, training);
        if (prefix != null) {
            long prefixLength = prefix.get(0).getShape().get(2);
            keys = NDArrays.concat(new NDList(Casts.toType(prefix.get(0), keys.getDataType()), keys), 2);
            values = NDArrays.concat(new NDList(Casts.toType(prefix.get(1), values.getDataType()), values), 2);
            NDArray prefixBias = prefix.size() > 2
                    ? SiteOps.attentionBias(prefix.get(2)).reshape(batch, 1, 1, prefixLength)
                    : x.getManager().zeros(new Shape(batch, 1, 1, prefixLength));
            bias = NDArrays.concat(new NDList(prefixBias, maskBias), 3);
        }
        // the queries are scaled rather than the scores: (batch, heads, sequence, head_dim) values instead of (…, sequence, keys)
        NDArray scores = Scalars.dividedBy(queries, (float) Math.sqrt(headDim)).matMul(keys.transpose(0, 1, 3, 2));
        NDArray probabilities = Dropouts.apply(Casts.toType(Casts.toType(scores, DataType.FLOAT32).add(bias).softmax(-1), queries.getDataType()), dropout, training);
        return probabilities.matMul(values).transpose(0, 2, 1, 3).reshape(batch, sequence, (long) heads * headDim);
    }

    private NDArray split(NDArray projected, long batch, long sequence) {
        return projected.reshape(batch, sequence, heads, headDim).transpose(0, 2, 1, 3);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("BertSelfAttention is driven by its layer");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
