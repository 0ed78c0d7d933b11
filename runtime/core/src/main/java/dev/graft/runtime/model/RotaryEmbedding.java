package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Rotary position embeddings as Hugging Face's Llama computes them: {@code inv_freq_i = θ^(−2i/d)} (scaled as
 * {@code rope_scaling} says), angles {@code pos·inv_freq} repeated twice along the head dimension, and
 * {@code x·cos + rotate_half(x)·sin}.
 */
final class RotaryEmbedding {
    private final float[] inverseFrequencies;

    RotaryEmbedding(int headDim, double theta, RopeScaling scaling) {
        inverseFrequencies = scaling.inverseFrequencies(headDim, theta);
    }

    /**
     * Cosines and sines for {@code positions} of shape {@code (batch or 1, sequence)}: each
     * {@code (batch or 1, 1, sequence, headDim)}, in the positions' manager.
     */
    NDList cosSin(NDArray positions) {
        NDArray frequencies = positions.getManager().create(inverseFrequencies);
        NDArray angles = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(frequencies);
        NDArray embedding = NDArrays.concat(new NDList(angles, angles), -1).expandDims(1);
        return new NDList(embedding.cos(), embedding.sin());
    }

    /**
     * {@code x·cos + rotate_half(x)·sin} for {@code x} of shape {@code (batch, heads, sequence, headDim)}, with
     * {@code cos} and {@code sin} in {@code x}'s data type, as Hugging Face casts them.
     */
    static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        long half = x.getShape().get(3) / 2;
        NDArray first = x.get(new NDIndex("..., :{}", half));
        NDArray second = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = NDArrays.concat(new NDList(second.neg(), first), -1);
        return x.mul(cos.toType(x.getDataType(), false)).add(rotated.mul(sin.toType(x.getDataType(), false)));
    }
}
