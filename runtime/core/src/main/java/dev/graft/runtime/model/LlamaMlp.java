package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.spi.LinearSite;

/** Llama's SwiGLU feed-forward: {@code down(silu(gate(x)) ⊙ up(x))}. */
final class LlamaMlp extends AbstractBlock {
    private static final byte VERSION = 1;

    final LinearSiteBlock gateProjection;
    final LinearSiteBlock upProjection;
    final LinearSiteBlock downProjection;

    LlamaMlp(String prefix, int layer, LlamaConfig config) {
        super(VERSION);
        gateProjection = addChildBlock("gate_proj", new LinearSiteBlock(new LinearSite(prefix + ".gate_proj", layer, config.hiddenSize(), config.intermediateSize(), config.mlpBias())));
        upProjection = addChildBlock("up_proj", new LinearSiteBlock(new LinearSite(prefix + ".up_proj", layer, config.hiddenSize(), config.intermediateSize(), config.mlpBias())));
        downProjection = addChildBlock("down_proj", new LinearSiteBlock(new LinearSite(prefix + ".down_proj", layer, config.intermediateSize(), config.hiddenSize(), config.mlpBias())));
    }

    NDArray forward(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray gate = gateProjection.forward(parameterStore, x, training);
        NDArray up = upProjection.forward(parameterStore, x, training);
        return downProjection.forward(parameterStore, gate.mul(Activation.sigmoid(gate)).mul(up), training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}
