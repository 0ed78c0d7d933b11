package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.graft.spi.Scalars;
import dev.graft.spi.Site;

import java.util.List;

/**
 * The AdapterFusion parameters of one sublayer site, as AdapterHub's {@code BertFusion} with its default
 * {@code DynamicAdapterFusionConfig} ({@code query}, {@code key}, {@code value} on; {@code value_before_softmax},
 * {@code value_initialized}; no temperature, {@code residual_before} off): query {@code Q} and key {@code K} are
 * {@code h×h} linear layers with bias, initialised N(0, 0.02) with zero bias; the value {@code V} is {@code h×h}
 * without bias, initialised to the identity with {@code 1e-6} off the diagonal. For the sublayer output {@code h} and
 * the fused adapters' outputs {@code dᵢ} at one token, {@link #fuse} returns
 * {@code Σᵢ pᵢ·V·dᵢ} with {@code pᵢ = softmax_i((Q·h + b_Q)·(K·dᵢ + b_K))}; the site adds it to {@code h}.
 * {@code 3h² + 2h} parameters. Unlike AdapterHub, no dropout is applied to the attention scores (training stays
 * deterministic) and the {@code regularization} term {@code 0.01·‖I − V‖²} is offered as {@link #regularization}
 * rather than added to the loss.
 */
public final class FusionLayer extends AbstractBlock {
    private static final byte VERSION = 1;
    /** The off-diagonal value of the initial value matrix, as AdapterHub's {@code value_initialized}. */
    public static final float VALUE_OFF_DIAGONAL = 1e-6f;

    private final Site site;
    private final int hiddenSize;
    private final Parameter queryWeight;
    private final Parameter queryBias;
    private final Parameter keyWeight;
    private final Parameter keyBias;
    private final Parameter valueWeight;

    public FusionLayer(Site site, int hiddenSize) {
        super(VERSION);
        this.site = requireNonNull(site, "site is null");
        if (hiddenSize < 1) {
            throw new IllegalArgumentException(format("a fusion layer at %s needs a hidden size >= 1, found %d", site.name(), hiddenSize));
        }
        this.hiddenSize = hiddenSize;
        Shape square = new Shape(hiddenSize, hiddenSize);
        queryWeight = addParameter(weight("query.weight", square, new NormalInitializer(0.02f)));
        queryBias = addParameter(bias("query.bias"));
        keyWeight = addParameter(weight("key.weight", square, new NormalInitializer(0.02f)));
        keyBias = addParameter(bias("key.bias"));
        valueWeight = addParameter(weight("value.weight", square, FusionLayer::nearIdentity));
    }

    private static Parameter weight(String name, Shape shape, Initializer initializer) {
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(shape).optInitializer(initializer).build();
    }

    private Parameter bias(String name) {
        return Parameter.builder().setName(name).setType(Parameter.Type.BIAS).optShape(new Shape(hiddenSize)).optInitializer(new ConstantInitializer(0f)).build();
    }

    private static NDArray nearIdentity(NDManager manager, Shape shape, DataType dataType) {
        int size = Math.toIntExact(shape.get(0));
        NDArray identity = manager.eye(size, size, 0, dataType);
        NDArray offDiagonal = manager.full(shape, VALUE_OFF_DIAGONAL, dataType);
        // 1 on the diagonal, 1e-6 elsewhere
        return offDiagonal.add(identity.sub(identity.mul(offDiagonal)));
    }

    /** The site these parameters fuse at. */
    public Site site() {
        return site;
    }

    /** The hidden size {@code h} the query, key and value map. */
    public int hiddenSize() {
        return hiddenSize;
    }

    /** The parameters by their checkpoint names: {@code query.weight}, {@code query.bias}, {@code key.weight}, {@code key.bias}, {@code value.weight}. */
    public List<Parameter> fusionParameters() {
        return List.of(queryWeight, queryBias, keyWeight, keyBias, valueWeight);
    }

    /** The number of parameters: {@code 3h² + 2h}. */
    public static long parameterCount(int hiddenSize) {
        long h = hiddenSize;
        return 3 * h * h + 2 * h;
    }

    /**
     * The fused term {@code Σᵢ pᵢ·V·dᵢ} for the sublayer output {@code query} {@code (batch, ..., h)} and the adapters'
     * outputs {@code adapterOutputs}, each shaped as {@code query}; float32 in and out. The caller scopes the
     * temporaries.
     */
    public NDArray fuse(ParameterStore parameterStore, NDArray query, List<NDArray> adapterOutputs, boolean training) {
        if (adapterOutputs.isEmpty()) {
            throw new IllegalArgumentException(format("the fusion at %s needs at least one adapter output", site.name()));
        }
        NDArray wq = parameterStore.getValue(queryWeight, query.getDevice(), training);
        NDArray bq = parameterStore.getValue(queryBias, query.getDevice(), training);
        NDArray wk = parameterStore.getValue(keyWeight, query.getDevice(), training);
        NDArray bk = parameterStore.getValue(keyBias, query.getDevice(), training);
        NDArray wv = parameterStore.getValue(valueWeight, query.getDevice(), training);
        int adapterAxis = query.getShape().dimension() - 1;
        // (batch, ..., n, h): the adapters' outputs side by side before the feature axis
        NDArray stacked = NDArrays.stack(new NDList(adapterOutputs), adapterAxis);
        NDArray queries = Linear.linear(query, wq, bq).singletonOrThrow().expandDims(adapterAxis);
        NDArray keys = Linear.linear(stacked, wk, bk).singletonOrThrow();
        NDArray values = Linear.linear(stacked, wv).singletonOrThrow();
        NDArray scores = keys.mul(queries).sum(new int[] {adapterAxis + 1});
        NDArray probabilities = scores.softmax(adapterAxis);
        return values.mul(probabilities.expandDims(adapterAxis + 1)).sum(new int[] {adapterAxis});
    }

    /** AdapterHub's fusion regularisation {@code 0.01·Σ (I − V)²}, for a trainer that adds it to the loss. */
    public NDArray regularization(ParameterStore parameterStore, NDManager manager, boolean training) {
        NDArray wv = parameterStore.getValue(valueWeight, manager.getDevice(), training);
        NDArray identity = manager.eye(hiddenSize, hiddenSize, 0, wv.getDataType());
        NDArray difference = identity.sub(wv);
        return Scalars.times(difference.mul(difference).sum(), 0.01f);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList outputs = inputs.subNDList(1);
        return new NDList(fuse(parameterStore, inputs.get(0), outputs, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
