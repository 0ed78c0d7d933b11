package dev.graft.runtime.onnx;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * One attribute of a graph node ({@code AttributeProto}) with the value kinds this reader keeps: a float, an int,
 * a string, a tensor, and lists of floats or ints. Fields the attribute does not set are 0, empty or absent.
 * Graph-valued attributes (the bodies of {@code If}/{@code Loop}) are not read.
 *
 * @param name the attribute name, e.g. {@code epsilon}
 * @param floatValue {@code f}
 * @param intValue {@code i}
 * @param stringValue {@code s}, decoded as UTF-8
 * @param tensor {@code t}, e.g. the value of a {@code Constant} node
 * @param floats {@code floats}
 * @param ints {@code ints}
 */
public record OnnxAttribute(String name, float floatValue, long intValue, String stringValue, Optional<OnnxTensor> tensor, List<Float> floats, List<Long> ints) {
    public OnnxAttribute {
        requireNonNull(name, "name is null");
        requireNonNull(stringValue, "stringValue is null");
        requireNonNull(tensor, "tensor is null");
        floats = List.copyOf(floats);
        ints = List.copyOf(ints);
    }
}
