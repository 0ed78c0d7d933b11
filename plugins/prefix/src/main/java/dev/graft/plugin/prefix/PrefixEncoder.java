package dev.graft.plugin.prefix;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.CheckpointSupport;
import dev.graft.spi.PrefixKeyValues;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The trainable prefix of one adapter, shared by the attention layers, in PEFT's layout: a flat
 * {@code (n, layers·2·d)} tensor whose columns {@code [2i·d, (2i+1)·d)} are layer i's keys and
 * {@code [(2i+1)·d, (2i+2)·d)} its values, each {@code (kvHeads, headDim)} row-major, with {@code d = kvHeads·headDim}
 * (PEFT views the tensor as {@code (n, 2·layers, kvHeads, headDim)}, permutes it to {@code (2·layers, n, kvHeads,
 * headDim)} order and takes index {@code 2i} as keys and {@code 2i+1} as values).
 *
 * <p>Without projection the flat tensor is the parameter {@value #PROMPT_EMBEDDINGS} itself. With projection it is
 * computed by {@code Embedding(n, d) → Linear(d, h) → tanh → Linear(h, layers·2·d)} (parameters
 * {@code prompt_encoder.embedding.weight}, {@code prompt_encoder.transform.0.weight/bias},
 * {@code prompt_encoder.transform.2.weight/bias}); a frozen {@value #PROMPT_EMBEDDINGS} parameter then holds a flat
 * prefix loaded from a checkpoint, which replaces the MLP from then on (see {@link #load}).
 */
final class PrefixEncoder {
    /** The checkpoint key of the flattened prefix, PEFT's {@code prompt_embeddings}. */
    static final String PROMPT_EMBEDDINGS = "prompt_embeddings";
    static final String EMBEDDING = "prompt_encoder.embedding.weight";
    static final String HIDDEN_WEIGHT = "prompt_encoder.transform.0.weight";
    static final String HIDDEN_BIAS = "prompt_encoder.transform.0.bias";
    static final String OUTPUT_WEIGHT = "prompt_encoder.transform.2.weight";
    static final String OUTPUT_BIAS = "prompt_encoder.transform.2.bias";

    private final int numVirtualTokens;
    private final int numLayers;
    private final int keyValueHeads;
    private final int headDim;
    private final boolean projection;
    private final Parameter flat;
    private final Map<String, Parameter> encoder;
    private final Map<String, Parameter> parameters;
    private boolean loadedFlat;

    /**
     * Makes the parameters (without arrays) with their shapes and PEFT's initializers.
     *
     * @param configuration the adapter's options
     * @param numLayers the number of attention layers L
     * @param keyValueHeads the number of key/value heads
     * @param headDim the width of one head
     */
    PrefixEncoder(PrefixConfiguration configuration, int numLayers, int keyValueHeads, int headDim) {
        requireNonNull(configuration, "configuration is null");
        if (numLayers <= 0 || keyValueHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException(format("prefix encoder needs positive sizes: layers=%d kv heads=%d head dim=%d", numLayers, keyValueHeads, headDim));
        }
        this.numVirtualTokens = configuration.numVirtualTokens();
        this.numLayers = numLayers;
        this.keyValueHeads = keyValueHeads;
        this.headDim = headDim;
        this.projection = configuration.prefixProjection();
        int tokenDim = keyValueWidth();
        long flatWidth = flatWidth();
        Map<String, Parameter> encoderParameters = new LinkedHashMap<>();
        if (projection) {
            int hidden = configuration.encoderHiddenSize(tokenDim);
            Initializer outputInitializer = configuration.zeroInit() ? new ConstantInitializer(0) : linearDefault(hidden);
            encoderParameters.put(EMBEDDING, parameter(EMBEDDING, new Shape(numVirtualTokens, tokenDim), new NormalInitializer(1), true));
            encoderParameters.put(HIDDEN_WEIGHT, parameter(HIDDEN_WEIGHT, new Shape(hidden, tokenDim), linearDefault(tokenDim), true));
            encoderParameters.put(HIDDEN_BIAS, parameter(HIDDEN_BIAS, new Shape(hidden), linearDefault(tokenDim), true));
            encoderParameters.put(OUTPUT_WEIGHT, parameter(OUTPUT_WEIGHT, new Shape(flatWidth, hidden), outputInitializer, true));
            encoderParameters.put(OUTPUT_BIAS, parameter(OUTPUT_BIAS, new Shape(flatWidth), outputInitializer, true));
            flat = parameter(PROMPT_EMBEDDINGS, new Shape(numVirtualTokens, flatWidth), new ConstantInitializer(0), false);
        }
        else {
            flat = parameter(PROMPT_EMBEDDINGS, new Shape(numVirtualTokens, flatWidth),
                    configuration.zeroInit() ? new ConstantInitializer(0) : new NormalInitializer(1), true);
        }
        this.encoder = Collections.unmodifiableMap(encoderParameters);
        Map<String, Parameter> all = new LinkedHashMap<>(encoderParameters);
        all.put(PROMPT_EMBEDDINGS, flat);
        this.parameters = Collections.unmodifiableMap(all);
    }

    /** Every parameter by its key: the MLP's (with projection) and {@value #PROMPT_EMBEDDINGS}. */
    Map<String, Parameter> parameters() {
        return parameters;
    }

    /** The number n of virtual tokens. */
    int numVirtualTokens() {
        return numVirtualTokens;
    }

    /** The number of layers L the flat prefix covers. */
    int numLayers() {
        return numLayers;
    }

    /** The key (and value) width d of one layer: {@code kvHeads·headDim}. */
    int keyValueWidth() {
        return keyValueHeads * headDim;
    }

    /** Whether a flat prefix loaded from a checkpoint replaces the projection MLP. */
    boolean usesLoadedFlatPrefix() {
        return loadedFlat;
    }

    /** The number of trainable parameters: {@code n·L·2·d}, or the MLP's {@code n·d + (d·h + h) + (h·L·2·d + L·2·d)}. */
    long trainableParameterCount() {
        long count = 0;
        for (Parameter parameter : parameters.values()) {
            if (parameter.requiresGradient()) {
                count += parameter.getShape().size();
            }
        }
        return count;
    }

    /**
     * Layer {@code layer}'s virtual keys and values, each {@code (kvHeads, n, headDim)}, attached to {@code like}'s
     * manager; temporaries (and the parameters, for the duration) live in a sub-manager.
     */
    PrefixKeyValues keyValues(ParameterStore parameterStore, int layer, NDArray like, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(like, "like is null");
        if (layer < 0 || layer >= numLayers) {
            throw new IllegalArgumentException(format("prefix covers layers 0 to %d, not layer %d", numLayers - 1, layer));
        }
        int width = keyValueWidth();
        try (NDManager scope = like.getManager().newSubManager()) {
            NDArray both = layerColumns(parameterStore, layer, like.getDevice(), training, scope);
            NDArray keys = both.get(new NDIndex(":, 0:{}", width)).reshape(numVirtualTokens, keyValueHeads, headDim).transpose(1, 0, 2);
            NDArray values = both.get(new NDIndex(":, {}:", width)).reshape(numVirtualTokens, keyValueHeads, headDim).transpose(1, 0, 2);
            return new PrefixKeyValues(scope.ret(keys), scope.ret(values));
        }
    }

    /**
     * The flat prefix {@code (n, L·2·d)}: the parameter's own array without projection (or after a flat load), else
     * the MLP's output computed layer by layer exactly as forward does, as a new array in {@code manager}.
     */
    NDArray flatPrefix(NDManager manager) {
        requireNonNull(manager, "manager is null");
        if (!projection || loadedFlat) {
            return flat.getArray();
        }
        try (NDManager scope = manager.newSubManager()) {
            Device device = encoder.get(EMBEDDING).getArray().getDevice();
            ParameterStore parameterStore = new ParameterStore(scope, false);
            NDList layers = new NDList();
            for (int layer = 0; layer < numLayers; layer++) {
                layers.add(layerColumns(parameterStore, layer, device, false, scope));
            }
            return scope.ret(NDArrays.concat(layers, 1));
        }
    }

    /**
     * Loads a flat prefix {@value #PROMPT_EMBEDDINGS} {@code (n, L·2·d)}. Without projection it becomes the trainable
     * prefix. With projection the MLP cannot be recovered from its output (PEFT cannot either: it builds the flat
     * embedding in inference mode and refuses to load one into an MLP), so the loaded prefix goes into the frozen
     * {@value #PROMPT_EMBEDDINGS} parameter and is used from then on; the MLP's parameters are frozen and unused, and
     * saving writes the loaded prefix back. To train such a prefix further, attach it with {@code prefix_projection:
     * false}.
     *
     * @throws IllegalArgumentException on a missing or unexpected key or a shape mismatch, naming key and shapes
     */
    void load(Map<String, NDArray> state) {
        CheckpointSupport.loadParameterValues("shared state", Map.of(PROMPT_EMBEDDINGS, flat), requireNonNull(state, "state is null"));
        if (projection) {
            encoder.values().forEach(parameter -> parameter.freeze(true));
            loadedFlat = true;
        }
    }

    /** Layer {@code layer}'s keys and values side by side, {@code (n, 2·d)}, in {@code scope}. */
    private NDArray layerColumns(ParameterStore parameterStore, int layer, Device device, boolean training, NDManager scope) {
        long start = 2L * layer * keyValueWidth();
        long end = start + 2L * keyValueWidth();
        if (!projection || loadedFlat) {
            NDArray prefix = read(parameterStore, flat, device, training, scope);
            return prefix.get(new NDIndex(":, {}:{}", start, end));
        }
        NDArray embedding = read(parameterStore, encoder.get(EMBEDDING), device, training, scope);
        NDArray hiddenWeight = read(parameterStore, encoder.get(HIDDEN_WEIGHT), device, training, scope);
        NDArray hiddenBias = read(parameterStore, encoder.get(HIDDEN_BIAS), device, training, scope);
        NDArray outputWeight = read(parameterStore, encoder.get(OUTPUT_WEIGHT), device, training, scope);
        NDArray outputBias = read(parameterStore, encoder.get(OUTPUT_BIAS), device, training, scope);
        NDArray hidden = Activation.tanh(Linear.linear(embedding, hiddenWeight, hiddenBias).singletonOrThrow());
        NDIndex rows = new NDIndex("{}:{}", start, end);
        return Linear.linear(hidden, outputWeight.get(rows), outputBias.get(rows)).singletonOrThrow();
    }

    /**
     * A parameter's value, attached to {@code scope} until it closes, so that every array computed from it lands in
     * the scope and not in the model's manager, whatever scope the caller opened (a test, or saving, opens none). An
     * array already in the scope is not attached again: a second temporary attachment would make the scope its owner.
     */
    private static NDArray read(ParameterStore parameterStore, Parameter parameter, Device device, boolean training, NDManager scope) {
        NDArray value = parameterStore.getValue(parameter, device, training);
        if (value.getManager() != scope) {
            scope.tempAttachAll(value);
        }
        return value;
    }

    private long flatWidth() {
        return 2L * numLayers * keyValueWidth();
    }

    /** {@code nn.Linear}'s default: weight and bias {@code U(−1/√fan_in, 1/√fan_in)}. */
    private static Initializer linearDefault(int fanIn) {
        return new UniformInitializer((float) (1 / Math.sqrt(fanIn)));
    }

    private static Parameter parameter(String name, Shape shape, Initializer initializer, boolean trainable) {
        Parameter.Type type = name.endsWith(".bias") ? Parameter.Type.BIAS : Parameter.Type.WEIGHT;
        return Parameter.builder().setName(name).setType(type).optShape(shape).optInitializer(initializer).optRequiresGrad(trainable).build();
    }
}
