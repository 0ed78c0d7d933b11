package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** A frozen LayerNorm over the last axis, as {@code torch.nn.LayerNorm(hidden, eps)}: {@code w ⊙ (x − μ) / sqrt(σ² + eps) + b}. */
final class LayerNormalization extends AbstractBlock {
    private static final byte VERSION = 1;

    private final Parameter weight;
    private final Parameter bias;
    private final float eps;

    LayerNormalization(double eps) {
        super(VERSION);
        this.eps = (float) eps;
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.GAMMA).optRequiresGrad(false).build());
        this.bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BETA).optRequiresGrad(false).build());
    }

    Parameter weightParameter() {
        return weight;
    }

    Parameter biasParameter() {
        return bias;
    }

    NDArray forward(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray w = parameterStore.getValue(weight, x.getDevice(), training);
        NDArray b = parameterStore.getValue(bias, x.getDevice(), training);
        return LayerNorm.layerNorm(x, new Shape(w.getShape().get(0)), w, b, eps).singletonOrThrow();
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
