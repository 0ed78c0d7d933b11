package dev.graft.runtime.onnx;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One node of an ONNX graph ({@code NodeProto}): an operator applied to named inputs (graph inputs,
 * initializers or other nodes' outputs), producing named outputs. Optional inputs left out are empty strings.
 *
 * @param name the node name (exporters often use the module path, e.g. {@code /encoder/layer.0/attention/self/query/MatMul})
 * @param opType the operator, e.g. {@code MatMul}
 * @param domain the operator set domain; empty for the default ONNX domain
 * @param inputs input names, in operator order
 * @param outputs output names, in operator order
 * @param attributes the attributes by name
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs, Map<String, OnnxAttribute> attributes) {
    public OnnxNode {
        requireNonNull(name, "name is null");
        requireNonNull(opType, "opType is null");
        requireNonNull(domain, "domain is null");
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        attributes = Map.copyOf(attributes);
    }

    /** The attribute named {@code attributeName}, if the node has it. */
    public Optional<OnnxAttribute> attribute(String attributeName) {
        return Optional.ofNullable(attributes.get(attributeName));
    }
}
