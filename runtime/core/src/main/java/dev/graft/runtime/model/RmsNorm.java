package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.Casts;

/** Llama's RMSNorm: {@code w ⊙ x / sqrt(mean(x²) + eps)}, computed in float32 as Hugging Face does. */
final class RmsNorm extends AbstractBlock {
    private static final byte VERSION = 1;

    private final Parameter weight;
    private final float eps;

    RmsNorm(double eps) {
        super(VERSION);
        this.eps = (float) eps;
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.GAMMA).optRequiresGrad(false).build());
    }

    Parameter weightParameter() {
        return weight;
    }

    NDArray forward(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray w = parameterStore.getValue(weight, x.getDevice(), training);
        DataType inputType = x.getDataType();
        NDArray x32 = Casts.toType(x, DataType.FLOAT32);
        NDArray variance = x32.square().mean(new int[] {-1}, true);
        NDArray normed = Casts.toType(x32.div(variance.add(eps).sqrt()), inputType);
        return normed.mul(w);
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
