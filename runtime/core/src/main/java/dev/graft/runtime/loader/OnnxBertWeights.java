package dev.graft.runtime.loader;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.onnx.OnnxAttribute;
import dev.graft.runtime.onnx.OnnxModel;
import dev.graft.runtime.onnx.OnnxNode;
import dev.graft.runtime.onnx.OnnxTensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Takes the weights of a BERT-family encoder out of an ONNX graph exported from PyTorch ({@code torch.onnx},
 * Optimum) and gives them their Hugging Face state-dict keys.
 *
 * <p>Such an export keeps the names of embeddings, biases and LayerNorm parameters, but stores each linear
 * layer's weight transposed, {@code (in, out)}, as the second input of a {@code MatMul} under a generated name
 * ({@code onnx::MatMul_787}). The module a weight belongs to is read from the graph, not from the name: the
 * {@code Add} that consumes the {@code MatMul}'s output adds the bias {@code <module>.bias}; failing that, the
 * node's scope name ({@code /encoder/layer.0/attention/self/query/MatMul}) is used. Square matrices cannot be
 * told apart by shape, so the graph is the only sound source; tests prove the mapping against ONNX Runtime.
 */
final class OnnxBertWeights {
    private OnnxBertWeights() {}

    /**
     * The weights of {@code model} by Hugging Face key, as float32 arrays of {@code manager}: named initializers
     * as they are, {@code MatMul} weights transposed to {@code (out, in)} under {@code <module>.weight}. Integer
     * initializers (the {@code embeddings.position_ids} buffer, shape constants) are left out, as are
     * generated-name initializers that feed no {@code MatMul}.
     *
     * @throws ModelLoadException if a {@code MatMul} weight belongs to no recognisable module or two weights get one key
     */
    static Map<String, NDArray> stateDict(OnnxModel model, NDManager manager) {
        Map<String, List<OnnxNode>> consumers = consumers(model);
        Map<String, String> matMulKeys = new LinkedHashMap<>();
        for (OnnxNode node : model.nodes()) {
            if (node.opType().equals("MatMul") && node.inputs().size() == 2 && model.initializers().containsKey(node.inputs().get(1))) {
                OnnxTensor weight = model.initializers().get(node.inputs().get(1));
                if (weight.dims().size() == 2) {
                    matMulKeys.put(weight.name(), module(model, node, consumers) + ".weight");
                }
            }
        }
        Map<String, NDArray> weights = new LinkedHashMap<>();
        for (OnnxTensor tensor : model.initializers().values()) {
            String matMulKey = matMulKeys.get(tensor.name());
            if (matMulKey != null) {
                put(model, weights, matMulKey, transposed(tensor, manager));
            }
            else if (tensor.dataType().isFloatingPoint() && !tensor.name().startsWith("onnx::")) {
                put(model, weights, tensor.name(), tensor.toNDArray(manager));
            }
        }
        return weights;
    }

    private static void put(OnnxModel model, Map<String, NDArray> weights, String key, NDArray array) {
        if (weights.putIfAbsent(key, array) != null) {
            throw new ModelLoadException(format("ONNX model %s has two weights for '%s'", model.source(), key));
        }
    }

    private static Map<String, List<OnnxNode>> consumers(OnnxModel model) {
        Map<String, List<OnnxNode>> consumers = new HashMap<>();
        for (OnnxNode node : model.nodes()) {
            for (String input : node.inputs()) {
                consumers.computeIfAbsent(input, name -> new ArrayList<>()).add(node);
            }
        }
        return consumers;
    }

    private static String module(OnnxModel model, OnnxNode matMul, Map<String, List<OnnxNode>> consumers) {
        for (OnnxNode consumer : consumers.getOrDefault(matMul.outputs().get(0), List.of())) {
            if (consumer.opType().equals("Add")) {
                for (String input : consumer.inputs()) {
                    if (input.endsWith(".bias") && model.initializers().containsKey(input)) {
                        return input.substring(0, input.length() - ".bias".length());
                    }
                }
            }
        }
        String scope = matMul.name();
        int last = scope.lastIndexOf('/');
        if (scope.startsWith("/") && last > 0) {
            return scope.substring(1, last).replace('/', '.');
        }
        throw new ModelLoadException(format("ONNX model %s: cannot tell which module the MatMul weight '%s' (node '%s') belongs to: "
                + "no Add of a '<module>.bias' follows it and the node name is no module path", model.source(), matMul.inputs().get(1), matMul.name()));
    }

    private static NDArray transposed(OnnxTensor tensor, NDManager manager) {
        int rows = Math.toIntExact(tensor.dims().get(0));
        int columns = Math.toIntExact(tensor.dims().get(1));
        float[] values = tensor.toFloatArray();
        float[] transposed = new float[values.length];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                transposed[column * rows + row] = values[row * columns + column];
            }
        }
        return manager.create(transposed, new Shape(columns, rows));
    }

    /**
     * The config of the BERT encoder in {@code model}, read from its weights' shapes; what the weights cannot tell
     * comes from the caller ({@code heads}) or from the graph ({@code layer_norm_eps}, if the graph holds it).
     *
     * @param heads {@code num_attention_heads}
     * @param defaultEps {@code layer_norm_eps} when the graph does not hold it
     */
    static BertConfig config(OnnxModel model, int heads, double defaultEps) {
        OnnxTensor words = required(model, "embeddings.word_embeddings.weight");
        int layers = 0;
        while (model.initializers().containsKey(format("encoder.layer.%d.attention.self.query.bias", layers))) {
            layers++;
        }
        if (layers == 0) {
            throw new ModelLoadException(format("ONNX model %s has no 'encoder.layer.0.attention.self.query.bias': is it a BERT encoder exported from PyTorch?", model.source()));
        }
        return new BertConfig(
                size(words, 0),
                size(words, 1),
                layers,
                heads,
                size(required(model, "encoder.layer.0.intermediate.dense.bias"), 0),
                size(required(model, "embeddings.position_embeddings.weight"), 0),
                size(required(model, "embeddings.token_type_embeddings.weight"), 0),
                layerNormEpsilon(model).orElse(defaultEps),
                model.initializers().containsKey("pooler.dense.bias"));
    }

    private static OnnxTensor required(OnnxModel model, String name) {
        OnnxTensor tensor = model.initializers().get(name);
        if (tensor == null) {
            throw new ModelLoadException(format("ONNX model %s has no initializer '%s': is it a BERT encoder exported from PyTorch?", model.source(), name));
        }
        return tensor;
    }

    private static int size(OnnxTensor tensor, int axis) {
        return Math.toIntExact(tensor.dims().get(axis));
    }

    /**
     * The LayerNorm epsilon the graph uses: the {@code epsilon} of {@code LayerNormalization} nodes, or, in a
     * decomposed LayerNorm ({@code ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt}), the constant added under
     * each {@code Sqrt}. Empty when the graph has neither.
     *
     * @throws ModelLoadException if the graph's LayerNorms use different epsilons
     */
    static Optional<Double> layerNormEpsilon(OnnxModel model) {
        Map<String, OnnxNode> producers = new HashMap<>();
        for (OnnxNode node : model.nodes()) {
            for (String output : node.outputs()) {
                producers.put(output, node);
            }
        }
        TreeSet<Float> epsilons = new TreeSet<>();
        for (OnnxNode node : model.nodes()) {
            if (node.opType().equals("LayerNormalization")) {
                epsilons.add(node.attribute("epsilon").map(OnnxAttribute::floatValue).orElse(1e-5f));
            }
            else if (node.opType().equals("Sqrt") && !node.inputs().isEmpty()) {
                OnnxNode add = producers.get(node.inputs().get(0));
                if (add != null && add.opType().equals("Add")) {
                    for (String input : add.inputs()) {
                        scalar(model, producers.get(input), input).ifPresent(epsilons::add);
                    }
                }
            }
        }
        if (epsilons.size() > 1) {
            throw new ModelLoadException(format("ONNX model %s uses several LayerNorm epsilons %s; one model has one layer_norm_eps", model.source(), epsilons));
        }
        return epsilons.isEmpty() ? Optional.empty() : Optional.of((double) epsilons.first());
    }

    private static Optional<Float> scalar(OnnxModel model, OnnxNode producer, String name) {
        Optional<OnnxTensor> tensor;
        if (producer != null && producer.opType().equals("Constant")) {
            tensor = producer.attribute("value").flatMap(OnnxAttribute::tensor);
        }
        else {
            tensor = Optional.ofNullable(model.initializers().get(name));
        }
        return tensor.filter(value -> value.elementCount() == 1 && value.dataType().isFloatingPoint()).map(value -> value.toFloatArray()[0]);
    }
}
