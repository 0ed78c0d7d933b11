package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.spi.Dropouts;
import dev.graft.spi.LinearSite;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;

/**
 * One post-LN BERT layer ({@code BertLayer}): {@code a = LayerNorm(dense(attention(x)) + x)},
 * {@code out = LayerNorm(dense(gelu(dense(a))) + a)} with exact (erf) GELU; in training each of the two dense outputs
 * goes through dropout ({@code hidden_dropout_prob}) first, as in Hugging Face's {@code BertSelfOutput} and
 * {@code BertOutput}. Those outputs, after dropout and before their residual adds, are the sublayer sites
 * {@code encoder.layer.N.attention.output} and {@code encoder.layer.N.output} (where AdapterHub applies its adapters).
 */
final class BertLayer extends AbstractBlock {
    private static final byte VERSION = 1;

    final BertSelfAttention attention;
    final LinearSiteBlock attentionOutput;
    final LayerNormalization attentionNorm;
    final LinearSiteBlock intermediate;
    final LinearSiteBlock output;
    final LayerNormalization outputNorm;
    final SiteAttachments attentionSublayer;
    final SiteAttachments feedForwardSublayer;
    private final float dropout;

    BertLayer(int layer, BertConfig config) {
        super(VERSION);
        dropout = (float) config.hiddenDropout();
        String prefix = "encoder.layer." + layer;
        int hidden = config.hiddenSize();
        attention = addChildBlock("attention_self", new BertSelfAttention(prefix + ".attention.self", layer, config));
        attentionOutput = addChildBlock("attention_output_dense", new LinearSiteBlock(new LinearSite(prefix + ".attention.output.dense", layer, hidden, hidden, true)));
        attentionNorm = addChildBlock("attention_output_LayerNorm", new LayerNormalization(config.layerNormEps()));
        intermediate = addChildBlock("intermediate_dense", new LinearSiteBlock(new LinearSite(prefix + ".intermediate.dense", layer, hidden, config.intermediateSize(), true)));
        output = addChildBlock("output_dense", new LinearSiteBlock(new LinearSite(prefix + ".output.dense", layer, config.intermediateSize(), hidden, true)));
        outputNorm = addChildBlock("output_LayerNorm", new LayerNormalization(config.layerNormEps()));
        attentionSublayer = new SiteAttachments(new SublayerSite(prefix + ".attention.output", layer, SublayerKind.ATTENTION, hidden));
        feedForwardSublayer = new SiteAttachments(new SublayerSite(prefix + ".output", layer, SublayerKind.FEED_FORWARD, hidden));
    }

    NDArray forward(ParameterStore parameterStore, NDArray x, NDArray maskBias, boolean training) {
        NDArray context = attention.forward(parameterStore, x, maskBias, training);
        NDArray projected = Dropouts.apply(attentionOutput.forward(parameterStore, context, training), dropout, training);
        NDArray attended = SiteOps.sublayer(parameterStore, attentionSublayer, x, projected, training);
        NDArray hidden = attentionNorm.forward(parameterStore, attended.add(x), training);
        NDArray activated = Activation.gelu(intermediate.forward(parameterStore, hidden, training));
        NDArray down = Dropouts.apply(output.forward(parameterStore, activated, training), dropout, training);
        NDArray fed = SiteOps.sublayer(parameterStore, feedForwardSublayer, hidden, down, training);
        return outputNorm.forward(parameterStore, fed.add(hidden), training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("BertLayer is driven by its model");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
