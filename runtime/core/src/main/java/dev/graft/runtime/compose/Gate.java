package dev.graft.runtime.compose;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A UniPELT gate for one (adapter, site): {@code g = mean over tokens of σ(x·W_gᵀ + b_g)}, one value per
 * example, with {@code W_g ~ N(0, 0.02)} and {@code b_g = 0}. The mean runs over the real tokens the model marks
 * ({@link TokenMask}), so padding never moves a row's gate; AdapterHub averages over padding too. Gates belong to the runtime; methods never see them.
 * Observation is opt-in: only while {@linkplain #setRecording recording} does a forward pass copy the gate's values
 * to the JVM (kept as {@link #lastValues()}); otherwise it copies nothing.
 */
public final class Gate extends AbstractBlock {
    private static final byte VERSION = 1;

    private final Parameter weight;
    private final Parameter bias;
    private final AtomicReference<float[]> lastValues = new AtomicReference<>(new float[0]);
    private volatile boolean recording;

    public Gate(int inFeatures) {
        super(VERSION);
        weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(1, inFeatures)).optInitializer(new NormalInitializer(0.02f)).build());
        bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS)
                .optShape(new Shape(1)).optInitializer(new ConstantInitializer(0f)).build());
    }

    /**
     * The gate value for {@code x} of shape {@code (batch, ..., in)}: shape {@code (batch, 1, ..., 1)} with
     * as many axes as {@code x}, ready to broadcast against the site's output.
     */
    public NDArray value(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray w = parameterStore.getValue(weight, x.getDevice(), training);
        NDArray b = parameterStore.getValue(bias, x.getDevice(), training);
        NDArray gate = Activation.sigmoid(Linear.linear(x, w, b).singletonOrThrow());
        int axes = gate.getShape().dimension();
        Optional<NDArray> realTokens = TokenMask.of(x);
        if (axes == 3 && realTokens.isPresent()) {
            NDArray mask = Casts.toType(realTokens.get(), gate.getDataType()).expandDims(-1);
            gate = gate.mul(mask).sum(new int[] {1}, true).div(mask.sum(new int[] {1}, true).maximum(1f));
        }
        else if (axes > 2) {
            int[] tokenAxes = new int[axes - 2];
            for (int axis = 1; axis < axes - 1; axis++) {
                tokenAxes[axis - 1] = axis;
            }
            gate = gate.mean(tokenAxes, true);
        }
        if (recording) {
            lastValues.set(gate.toType(DataType.FLOAT32, false).toFloatArray());
        }
        return gate;
    }

    /**
     * Turns recording on or off: while on, each forward pass copies the gate's per-example values to the JVM; off
     * (the default), a forward pass copies nothing. Turning it off forgets the last values.
     */
    public void setRecording(boolean recording) {
        this.recording = recording;
        if (!recording) {
            lastValues.set(new float[0]);
        }
    }

    /** Whether forward passes record the gate's values. */
    public boolean isRecording() {
        return recording;
    }

    /** The per-example values of the last forward pass while recording; empty when nothing was recorded. */
    public float[] lastValues() {
        return lastValues.get().clone();
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(value(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].slice(0, inputShapes[0].dimension() - 1).add(1)};
    }
}
