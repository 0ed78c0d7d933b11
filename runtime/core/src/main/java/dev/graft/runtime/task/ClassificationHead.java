package dev.graft.runtime.task;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

import dev.graft.spi.Dropouts;
import dev.graft.spi.ArrayValues;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The classification head of Hugging Face's {@code BertForSequenceClassification}: dropout, then
 * {@code classifier = Linear(hidden, labels)} with weights drawn from N(0, 0.02) and a zero bias (its
 * {@code _init_weights} with {@code initializer_range} 0.02). It reads pooled vectors (see {@link Pooling}) and is
 * trained in full beside the adapters; it is saved as PEFT saves {@code modules_to_save}, under
 * {@code base_model.model.classifier.weight} and {@code .bias}.
 */
public final class ClassificationHead extends AbstractBlock {
    /** The module name PEFT's sequence-classification models give the head. */
    public static final String MODULE_NAME = "classifier";
    private static final byte VERSION = 1;

    private final int hiddenSize;
    private final List<String> labels;
    private final Pooling pooling;
    private final float dropout;
    private final Parameter weight;
    private final Parameter bias;

    /**
     * @param hiddenSize the width of the pooled vectors
     * @param labels the label names, in class-index order (at least two)
     * @param pooling how the encoder's outputs are pooled
     * @param dropout the dropout rate on the pooled vectors during training
     */
    public ClassificationHead(int hiddenSize, List<String> labels, Pooling pooling, float dropout) {
        super(VERSION);
        this.labels = List.copyOf(requireNonNull(labels, "labels is null"));
        this.pooling = requireNonNull(pooling, "pooling is null");
        if (this.labels.size() < 2) {
            throw new IllegalArgumentException(format("a classifier needs at least two labels, found %s", this.labels));
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(format("classifier dropout must be in [0, 1), found %s", dropout));
        }
        this.hiddenSize = hiddenSize;
        this.dropout = dropout;
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(this.labels.size(), hiddenSize)).optInitializer(new NormalInitializer(0.02f)).build());
        this.bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS)
                .optShape(new Shape(this.labels.size())).optInitializer(new ConstantInitializer(0f)).build());
    }

    /** Creates the head's parameters (float32) in {@code manager} with their initializers. */
    public ClassificationHead initializeIn(NDManager manager) {
        initialize(manager, DataType.FLOAT32, new Shape(1, hiddenSize));
        return this;
    }

    public List<String> labels() {
        return labels;
    }

    public Pooling pooling() {
        return pooling;
    }

    public float dropout() {
        return dropout;
    }

    /** The head's parameters: {@code weight (labels, hidden)} and {@code bias (labels)}. */
    public List<Parameter> parameters() {
        return List.of(weight, bias);
    }

    /** The logits {@code (batch, labels)} of the encoder's {@code outputs} for a batch with {@code attentionMask}. */
    public NDArray logits(ParameterStore parameterStore, NDList outputs, NDArray attentionMask, boolean training) {
        NDArray pooled = pooling.pool(outputs, attentionMask).toType(DataType.FLOAT32, false);
        pooled = Dropouts.apply(pooled, dropout, training);
        NDArray w = parameterStore.getValue(weight, pooled.getDevice(), training);
        NDArray b = parameterStore.getValue(bias, pooled.getDevice(), training);
        return Linear.linear(pooled, w, b).singletonOrThrow();
    }

    /** The head's tensors by module-relative key: {@code classifier.weight}, {@code classifier.bias}. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> state = new LinkedHashMap<>();
        state.put(MODULE_NAME + ".weight", weight.getArray());
        state.put(MODULE_NAME + ".bias", bias.getArray());
        return state;
    }

    /**
     * Copies saved head tensors (keys as {@link #state()} gives them) into the head.
     *
     * @throws IllegalArgumentException naming the key on a missing tensor or a shape that does not fit the labels
     */
    public void load(Map<String, NDArray> state) {
        for (Map.Entry<String, NDArray> entry : state().entrySet()) {
            NDArray saved = state.get(entry.getKey());
            if (saved == null) {
                throw new IllegalArgumentException(format("the adapter lists %s in modules_to_save but has no tensor %s", MODULE_NAME, entry.getKey()));
            }
            if (!saved.getShape().equals(entry.getValue().getShape())) {
                throw new IllegalArgumentException(format("%s has shape %s, but a head for %d labels over width %d needs %s",
                        entry.getKey(), saved.getShape(), labels.size(), hiddenSize, entry.getValue().getShape()));
            }
            ArrayValues.copy(entry.getValue(), saved);
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the head runs through logits(...), which also needs the attention mask");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), labels.size())};
    }
}
