package dev.graft.runtime.onnx;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The parts of an ONNX model ({@code ModelProto}) needed to take its weights: the graph's initializers (name,
 * dims, data type, {@code raw_data} or typed data), its nodes (op type, inputs, outputs, attributes) and the
 * names of its inputs and outputs. Read with a small bounds-checked protobuf wire-format reader; no generated
 * classes. External data and sparse initializers are refused; a file must be under 2 GiB, as protobuf requires.
 */
public final class OnnxModel {
    private static final int MODEL_IR_VERSION = 1;
    private static final int MODEL_PRODUCER_NAME = 2;
    private static final int MODEL_PRODUCER_VERSION = 3;
    private static final int MODEL_GRAPH = 7;
    private static final int MODEL_OPSET_IMPORT = 8;
    private static final int OPSET_DOMAIN = 1;
    private static final int OPSET_VERSION = 2;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_NAME = 2;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int GRAPH_INPUT = 11;
    private static final int GRAPH_OUTPUT = 12;
    private static final int GRAPH_SPARSE_INITIALIZER = 15;
    private static final int VALUE_INFO_NAME = 1;
    private static final int NODE_INPUT = 1;
    private static final int NODE_OUTPUT = 2;
    private static final int NODE_NAME = 3;
    private static final int NODE_OP_TYPE = 4;
    private static final int NODE_ATTRIBUTE = 5;
    private static final int NODE_DOMAIN = 7;
    private static final int ATTRIBUTE_NAME = 1;
    private static final int ATTRIBUTE_FLOAT = 2;
    private static final int ATTRIBUTE_INT = 3;
    private static final int ATTRIBUTE_STRING = 4;
    private static final int ATTRIBUTE_TENSOR = 5;
    private static final int ATTRIBUTE_FLOATS = 7;
    private static final int ATTRIBUTE_INTS = 8;
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_SEGMENT = 3;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_INT32_DATA = 5;
    private static final int TENSOR_INT64_DATA = 7;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_DOUBLE_DATA = 10;
    private static final int TENSOR_UINT64_DATA = 11;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int TENSOR_DATA_LOCATION = 14;

    private final String source;
    private final long irVersion;
    private final String producerName;
    private final String producerVersion;
    private final long opsetVersion;
    private final String graphName;
    private final List<String> inputs;
    private final List<String> outputs;
    private final Map<String, OnnxTensor> initializers;
    private final List<OnnxNode> nodes;

    private OnnxModel(String source, long irVersion, String producerName, String producerVersion, long opsetVersion, Graph graph) {
        this.source = source;
        this.irVersion = irVersion;
        this.producerName = producerName;
        this.producerVersion = producerVersion;
        this.opsetVersion = opsetVersion;
        this.graphName = graph.name;
        this.inputs = List.copyOf(graph.inputs);
        this.outputs = List.copyOf(graph.outputs);
        this.initializers = Collections.unmodifiableMap(new LinkedHashMap<>(graph.initializers));
        this.nodes = List.copyOf(graph.nodes);
    }

    /** Reads the ONNX file at {@code path}, memory-mapped; tensors view the mapping. */
    public static OnnxModel read(Path path) {
        requireNonNull(path, "path is null");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size > Integer.MAX_VALUE) {
                throw new OnnxFormatException(format("ONNX file %s is %d bytes; a protobuf file cannot exceed 2 GiB, and external data is not supported", path, size));
            }
            return parse(channel.map(FileChannel.MapMode.READ_ONLY, 0, size), path.toString());
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot read ONNX file %s: %s", path, e.getMessage()), e);
        }
    }

    /** Reads an ONNX model from {@code stream} (fully, into memory); {@code source} names it in errors. */
    public static OnnxModel read(InputStream stream, String source) {
        requireNonNull(stream, "stream is null");
        try {
            return parse(ByteBuffer.wrap(stream.readAllBytes()), source);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot read ONNX model %s: %s", source, e.getMessage()), e);
        }
    }

    /** Parses an ONNX model from {@code bytes} (position to limit); tensors view the buffer. */
    public static OnnxModel parse(ByteBuffer bytes, String source) {
        ProtobufReader reader = new ProtobufReader(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), source);
        long irVersion = 0;
        String producerName = "";
        String producerVersion = "";
        long opsetVersion = 0;
        Graph graph = null;
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            switch (ProtobufReader.field(tag)) {
                case MODEL_IR_VERSION:
                    reader.expectWireType(tag, ProtobufReader.VARINT, "ModelProto.ir_version");
                    irVersion = reader.readVarint();
                    break;
                case MODEL_PRODUCER_NAME:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.producer_name");
                    producerName = reader.readString();
                    break;
                case MODEL_PRODUCER_VERSION:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.producer_version");
                    producerVersion = reader.readString();
                    break;
                case MODEL_OPSET_IMPORT:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.opset_import");
                    opsetVersion = Math.max(opsetVersion, readDefaultOpset(reader.readMessage()));
                    break;
                case MODEL_GRAPH:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.graph");
                    graph = readGraph(reader.readMessage());
                    break;
                default:
                    reader.skip(ProtobufReader.wireType(tag));
                    break;
            }
        }
        if (graph == null) {
            throw new OnnxFormatException(format("ONNX file %s has no graph: is it an ONNX model (.onnx)?", source));
        }
        return new OnnxModel(source, irVersion, producerName, producerVersion, opsetVersion, graph);
    }

    private static long readDefaultOpset(ProtobufReader reader) {
        String domain = "";
        long version = 0;
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            if (ProtobufReader.field(tag) == OPSET_DOMAIN && ProtobufReader.wireType(tag) == ProtobufReader.LENGTH_DELIMITED) {
                domain = reader.readString();
            }
            else if (ProtobufReader.field(tag) == OPSET_VERSION && ProtobufReader.wireType(tag) == ProtobufReader.VARINT) {
                version = reader.readVarint();
            }
            else {
                reader.skip(ProtobufReader.wireType(tag));
            }
        }
        return domain.isEmpty() || domain.equals("ai.onnx") ? version : 0;
    }

    private static final class Graph {
        private String name = "";
        private final List<String> inputs = new ArrayList<>();
        private final List<String> outputs = new ArrayList<>();
        private final Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
        private final List<OnnxNode> nodes = new ArrayList<>();
    }

    private static Graph readGraph(ProtobufReader reader) {
        Graph graph = new Graph();
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            int field = ProtobufReader.field(tag);
            if (field == GRAPH_SPARSE_INITIALIZER) {
                throw reader.error(reader.offset(), "the graph has sparse initializers, which this reader does not support");
            }
            if (ProtobufReader.wireType(tag) != ProtobufReader.LENGTH_DELIMITED) {
                reader.skip(ProtobufReader.wireType(tag));
                continue;
            }
            switch (field) {
                case GRAPH_NODE:
                    graph.nodes.add(readNode(reader.readMessage()));
                    break;
                case GRAPH_NAME:
                    graph.name = reader.readString();
                    break;
                case GRAPH_INITIALIZER:
                    int at = reader.offset();
                    OnnxTensor tensor = readTensor(reader.readMessage());
                    if (graph.initializers.putIfAbsent(tensor.name(), tensor) != null) {
                        throw reader.error(at, format("duplicate initializer '%s'", tensor.name()));
                    }
                    break;
                case GRAPH_INPUT:
                    graph.inputs.add(readValueInfoName(reader.readMessage()));
                    break;
                case GRAPH_OUTPUT:
                    graph.outputs.add(readValueInfoName(reader.readMessage()));
                    break;
                default:
                    reader.skip(ProtobufReader.LENGTH_DELIMITED);
                    break;
            }
        }
        return graph;
    }

    private static String readValueInfoName(ProtobufReader reader) {
        String name = "";
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            if (ProtobufReader.field(tag) == VALUE_INFO_NAME && ProtobufReader.wireType(tag) == ProtobufReader.LENGTH_DELIMITED) {
                name = reader.readString();
            }
            else {
                reader.skip(ProtobufReader.wireType(tag));
            }
        }
        return name;
    }

    private static OnnxNode readNode(ProtobufReader reader) {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        Map<String, OnnxAttribute> attributes = new LinkedHashMap<>();
        String name = "";
        String opType = "";
        String domain = "";
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            if (ProtobufReader.wireType(tag) != ProtobufReader.LENGTH_DELIMITED) {
                reader.skip(ProtobufReader.wireType(tag));
                continue;
            }
            switch (ProtobufReader.field(tag)) {
                case NODE_INPUT:
                    inputs.add(reader.readString());
                    break;
                case NODE_OUTPUT:
                    outputs.add(reader.readString());
                    break;
                case NODE_NAME:
                    name = reader.readString();
                    break;
                case NODE_OP_TYPE:
                    opType = reader.readString();
                    break;
                case NODE_ATTRIBUTE:
                    OnnxAttribute attribute = readAttribute(reader.readMessage());
                    attributes.put(attribute.name(), attribute);
                    break;
                case NODE_DOMAIN:
                    domain = reader.readString();
                    break;
                default:
                    reader.skip(ProtobufReader.LENGTH_DELIMITED);
                    break;
            }
        }
        if (opType.isEmpty()) {
            throw reader.error(reader.offset(), format("node '%s' has no op_type", name));
        }
        return new OnnxNode(name, opType, domain, inputs, outputs, attributes);
    }

    private static OnnxAttribute readAttribute(ProtobufReader reader) {
        String name = "";
        float floatValue = 0;
        long intValue = 0;
        String stringValue = "";
        OnnxTensor tensor = null;
        List<Float> floats = new ArrayList<>();
        List<Long> ints = new ArrayList<>();
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            int wireType = ProtobufReader.wireType(tag);
            switch (ProtobufReader.field(tag)) {
                case ATTRIBUTE_NAME:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "AttributeProto.name");
                    name = reader.readString();
                    break;
                case ATTRIBUTE_FLOAT:
                    reader.expectWireType(tag, ProtobufReader.FIXED32, "AttributeProto.f");
                    floatValue = Float.intBitsToFloat(reader.readFixed32());
                    break;
                case ATTRIBUTE_INT:
                    reader.expectWireType(tag, ProtobufReader.VARINT, "AttributeProto.i");
                    intValue = reader.readVarint();
                    break;
                case ATTRIBUTE_STRING:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "AttributeProto.s");
                    stringValue = reader.readString();
                    break;
                case ATTRIBUTE_TENSOR:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "AttributeProto.t");
                    tensor = readTensor(reader.readMessage());
                    break;
                case ATTRIBUTE_FLOATS:
                    readRepeated(reader, wireType, ProtobufReader.FIXED32, "AttributeProto.floats", element -> floats.add(Float.intBitsToFloat(element.readFixed32())));
                    break;
                case ATTRIBUTE_INTS:
                    readRepeated(reader, wireType, ProtobufReader.VARINT, "AttributeProto.ints", element -> ints.add(element.readVarint()));
                    break;
                default:
                    reader.skip(wireType);
                    break;
            }
        }
        return new OnnxAttribute(name, floatValue, intValue, stringValue, Optional.ofNullable(tensor), floats, ints);
    }

    private static OnnxTensor readTensor(ProtobufReader reader) {
        int start = reader.offset();
        List<Long> dims = new ArrayList<>();
        long dataType = 0;
        String name = "";
        ByteBuffer rawData = null;
        List<Float> floatData = new ArrayList<>();
        List<Double> doubleData = new ArrayList<>();
        List<Long> integerData = new ArrayList<>();
        boolean external = false;
        while (reader.hasNext()) {
            int tag = reader.nextTag();
            int wireType = ProtobufReader.wireType(tag);
            switch (ProtobufReader.field(tag)) {
                case TENSOR_DIMS:
                    readRepeated(reader, wireType, ProtobufReader.VARINT, "TensorProto.dims", element -> dims.add(element.readVarint()));
                    break;
                case TENSOR_DATA_TYPE:
                    reader.expectWireType(tag, ProtobufReader.VARINT, "TensorProto.data_type");
                    dataType = reader.readVarint();
                    break;
                case TENSOR_SEGMENT:
                    throw reader.error(start, format("tensor '%s' is segmented, which this reader does not support", name));
                case TENSOR_FLOAT_DATA:
                    readRepeated(reader, wireType, ProtobufReader.FIXED32, "TensorProto.float_data", element -> floatData.add(Float.intBitsToFloat(element.readFixed32())));
                    break;
                case TENSOR_INT32_DATA:
                    readRepeated(reader, wireType, ProtobufReader.VARINT, "TensorProto.int32_data", element -> integerData.add((long) (int) element.readVarint()));
                    break;
                case TENSOR_INT64_DATA:
                case TENSOR_UINT64_DATA:
                    readRepeated(reader, wireType, ProtobufReader.VARINT, "TensorProto.int64_data", element -> integerData.add(element.readVarint()));
                    break;
                case TENSOR_NAME:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "TensorProto.name");
                    name = reader.readString();
                    break;
                case TENSOR_RAW_DATA:
                    reader.expectWireType(tag, ProtobufReader.LENGTH_DELIMITED, "TensorProto.raw_data");
                    rawData = reader.readBytes();
                    break;
                case TENSOR_DOUBLE_DATA:
                    readRepeated(reader, wireType, ProtobufReader.FIXED64, "TensorProto.double_data", element -> doubleData.add(Double.longBitsToDouble(element.readFixed64())));
                    break;
                case TENSOR_EXTERNAL_DATA:
                    external = true;
                    reader.skip(wireType);
                    break;
                case TENSOR_DATA_LOCATION:
                    reader.expectWireType(tag, ProtobufReader.VARINT, "TensorProto.data_location");
                    external |= reader.readVarint() == 1;
                    break;
                default:
                    reader.skip(wireType);
                    break;
            }
        }
        if (external) {
            throw reader.error(start, format("tensor '%s' keeps its data in an external file, which this reader does not support: save the model with all tensors inside", name));
        }
        OnnxDataType type;
        try {
            type = OnnxDataType.fromCode(Math.toIntExact(dataType));
        }
        catch (IllegalArgumentException | ArithmeticException e) {
            throw reader.error(start, format("tensor '%s': %s", name, e.getMessage()));
        }
        try {
            return new OnnxTensor(name, dims, type, rawData,
                    rawData == null && !floatData.isEmpty() ? toFloats(floatData) : null,
                    rawData == null && !doubleData.isEmpty() ? doubleData.stream().mapToDouble(Double::doubleValue).toArray() : null,
                    rawData == null && !integerData.isEmpty() ? integerData.stream().mapToLong(Long::longValue).toArray() : null);
        }
        catch (OnnxFormatException e) {
            throw reader.error(start, e.getMessage());
        }
    }

    private interface ElementReader {
        void read(ProtobufReader reader);
    }

    /** A repeated numeric field, packed (one length-delimited run) or not (one {@code elementWireType} value per tag). */
    private static void readRepeated(ProtobufReader reader, int wireType, int elementWireType, String what, ElementReader element) {
        if (wireType == ProtobufReader.LENGTH_DELIMITED) {
            ProtobufReader packed = reader.readMessage();
            while (packed.hasNext()) {
                element.read(packed);
            }
        }
        else if (wireType == elementWireType) {
            element.read(reader);
        }
        else {
            throw reader.error(reader.offset(), format("%s has wire type %d, expected %d or a packed run", what, wireType, elementWireType));
        }
    }

    private static float[] toFloats(List<Float> values) {
        float[] array = new float[values.size()];
        for (int index = 0; index < array.length; index++) {
            array[index] = values.get(index);
        }
        return array;
    }

    /** What the file was read from, for messages. */
    public String source() {
        return source;
    }

    public long irVersion() {
        return irVersion;
    }

    /** The exporter, e.g. {@code pytorch}. */
    public String producerName() {
        return producerName;
    }

    public String producerVersion() {
        return producerVersion;
    }

    /** The version of the default ({@code ai.onnx}) operator set; 0 if not declared. */
    public long opsetVersion() {
        return opsetVersion;
    }

    public String graphName() {
        return graphName;
    }

    /** The graph's input names, initializers listed as inputs (older IR versions) included. */
    public List<String> inputs() {
        return inputs;
    }

    public List<String> outputs() {
        return outputs;
    }

    /** The graph's initializers by name, in file order. */
    public Map<String, OnnxTensor> initializers() {
        return initializers;
    }

    /**
     * The initializer named {@code name}.
     *
     * @throws OnnxFormatException if there is none
     */
    public OnnxTensor initializer(String name) {
        OnnxTensor tensor = initializers.get(name);
        if (tensor == null) {
            throw new OnnxFormatException(format("ONNX file %s has no initializer named '%s'", source, name));
        }
        return tensor;
    }

    /** The graph's nodes, in file (topological) order. */
    public List<OnnxNode> nodes() {
        return nodes;
    }
}
