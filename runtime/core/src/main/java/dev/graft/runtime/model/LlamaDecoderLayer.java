package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;

/**
 * One pre-norm Llama decoder layer: {@code h = x + attn(norm(x))}, {@code out = h + mlp(norm(h))}. The
 * attention and MLP outputs are sublayer sites, composed before each residual add.
 */
final class LlamaDecoderLayer extends AbstractBlock {
    private static final byte VERSION = 1;

    final RmsNorm inputNorm;
    final LlamaAttention attention;
    final RmsNorm postAttentionNorm;
    final LlamaMlp mlp;
    final SiteAttachments attentionSublayer;
    final SiteAttachments mlpSublayer;

    LlamaDecoderLayer(int layer, LlamaConfig config) {
        super(VERSION);
        String prefix = "model.layers." + layer;
        inputNorm = addChildBlock("input_layernorm", new RmsNorm(config.rmsNormEps()));
        attention = addChildBlock("self_attn", new LlamaAttention(prefix + ".self_attn", layer, config));
        postAttentionNorm = addChildBlock("post_attention_layernorm", new RmsNorm(config.rmsNormEps()));
        mlp = addChildBlock("mlp", new LlamaMlp(prefix + ".mlp", layer, config));
        attentionSublayer = new SiteAttachments(new SublayerSite(prefix + ".self_attn", layer, SublayerKind.ATTENTION, config.hiddenSize()));
        mlpSublayer = new SiteAttachments(new SublayerSite(prefix + ".mlp", layer, SublayerKind.FEED_FORWARD, config.hiddenSize()));
    }

    NDArray forward(ParameterStore parameterStore, NDArray x, NDArray attentionMask, NDArray cos, NDArray sin, boolean training) {
        NDArray normed = inputNorm.forward(parameterStore, x, training);
        NDArray attended = attention.forward(parameterStore, normed, attentionMask, cos, sin, training);
        NDArray hidden = x.add(SiteOps.sublayer(parameterStore, attentionSublayer, normed, attended, training));
        NDArray normedHidden = postAttentionNorm.forward(parameterStore, hidden, training);
        NDArray fed = mlp.forward(parameterStore, normedHidden, training);
        return hidden.add(SiteOps.sublayer(parameterStore, mlpSublayer, normedHidden, fed, training));
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("LlamaDecoderLayer is driven by its model");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
