package dev.graft.runtime.onnx;

import static dev.graft.runtime.onnx.ProtobufWriter.floatBytes;
import static dev.graft.runtime.onnx.ProtobufWriter.longBytes;
import static dev.graft.runtime.onnx.ProtobufWriter.shortBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestOnnxModel {
    private static final int FLOAT = 1;
    private static final int INT32 = 6;
    private static final int INT64 = 7;
    private static final int FLOAT16 = 10;
    private static final int DOUBLE = 11;
    private static final int BFLOAT16 = 16;

    @Test
    void testReadsInitializersInEveryEncoding() {
        ProtobufWriter graph = new ProtobufWriter()
                .message(5, tensor("raw", FLOAT, 2, 3).bytes(9, floatBytes(1, 2, 3, 4, 5, -6.5f)))
                .message(5, new ProtobufWriter().varint(1, 3).varint(2, FLOAT).string(8, "packed").packedFloats(4, 0.5f, 1.5f, 2.5f))
                .message(5, tensor("unpacked", FLOAT, 2).fixed32(4, Float.floatToIntBits(7f)).fixed32(4, Float.floatToIntBits(-8f)))
                .message(5, tensor("ids", INT64, 1, 3).bytes(9, longBytes(0, 1, Long.MAX_VALUE)))
                .message(5, tensor("typed_ids", INT64, 2).packedVarints(7, 5, -3))
                .message(5, tensor("small", INT32, 2).varint(5, -7).varint(5, 9))
                .message(5, tensor("half", FLOAT16, 3).bytes(9, shortBytes(0x3c00, 0xc000, 0x7bff)))
                .message(5, tensor("brain", BFLOAT16, 2).packedVarints(5, 0x3fc0, 0xc020))
                .message(5, tensor("wide", DOUBLE, 2).fixed64(10, Double.doubleToLongBits(0.25)).fixed64(10, Double.doubleToLongBits(-1e-3)))
                .message(5, tensor("scalar", FLOAT).bytes(9, floatBytes(42)));
        OnnxModel model = OnnxModel.parse(ByteBuffer.wrap(model(graph)), "test.onnx");
        assertThat(model.initializers().keySet()).containsExactly("raw", "packed", "unpacked", "ids", "typed_ids", "small", "half", "brain", "wide", "scalar");
        OnnxTensor raw = model.initializer("raw");
        assertThat(raw.dims()).containsExactly(2L, 3L);
        assertThat(raw.dataType()).isEqualTo(OnnxDataType.FLOAT);
        assertThat(raw.toFloatArray()).containsExactly(1, 2, 3, 4, 5, -6.5f);
        assertThat(model.initializer("packed").toFloatArray()).containsExactly(0.5f, 1.5f, 2.5f);
        assertThat(model.initializer("unpacked").toFloatArray()).containsExactly(7f, -8f);
        assertThat(model.initializer("ids").toLongArray()).containsExactly(0, 1, Long.MAX_VALUE);
        assertThat(model.initializer("typed_ids").toLongArray()).containsExactly(5, -3);
        assertThat(model.initializer("small").toLongArray()).containsExactly(-7, 9);
        assertThat(model.initializer("half").toFloatArray()).containsExactly(1f, -2f, 65504f);
        assertThat(model.initializer("brain").toFloatArray()).containsExactly(1.5f, -2.5f);
        assertThat(model.initializer("wide").toFloatArray()).containsExactly(0.25f, -1e-3f);
        assertThat(model.initializer("scalar").dims()).isEmpty();
        assertThat(model.initializer("scalar").toFloatArray()).containsExactly(42f);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray array = raw.toNDArray(manager);
            assertThat(array.getShape()).isEqualTo(new Shape(2, 3));
            assertThat(array.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(array.getName()).isEqualTo("raw");
            assertThat(array.toFloatArray()).containsExactly(1, 2, 3, 4, 5, -6.5f);
            assertThat(model.initializer("half").toNDArray(manager).toFloatArray()).containsExactly(1f, -2f, 65504f);
            NDArray ids = model.initializer("ids").toNDArray(manager);
            assertThat(ids.getDataType()).isEqualTo(DataType.INT64);
            assertThat(ids.toLongArray()).containsExactly(0, 1, Long.MAX_VALUE);
        }
    }

    @Test
    void testReadsNodesAttributesAndGraphInterface() {
        ProtobufWriter attributeTensor = tensor("value", FLOAT).bytes(9, floatBytes(1e-12f));
        ProtobufWriter node = new ProtobufWriter()
                .string(1, "x").string(1, "").string(1, "w")
                .string(2, "y")
                .string(3, "/encoder/layer.0/MatMul")
                .string(4, "Gemm")
                .string(7, "com.example")
                .message(5, new ProtobufWriter().string(1, "alpha").fixed32(2, Float.floatToIntBits(0.5f)).varint(20, 1))
                .message(5, new ProtobufWriter().string(1, "transB").varint(3, 1).varint(20, 2))
                .message(5, new ProtobufWriter().string(1, "mode").string(4, "linear").varint(20, 3))
                .message(5, new ProtobufWriter().string(1, "value").message(5, attributeTensor).varint(20, 4))
                .message(5, new ProtobufWriter().string(1, "scales").packedFloats(7, 1f, 2f).varint(20, 6))
                .message(5, new ProtobufWriter().string(1, "axes").varint(8, 0).varint(8, 2).varint(20, 7));
        ProtobufWriter graph = new ProtobufWriter()
                .message(1, node)
                .string(2, "main")
                .message(11, new ProtobufWriter().string(1, "x"))
                .message(12, new ProtobufWriter().string(1, "y"));
        ProtobufWriter file = new ProtobufWriter().varint(1, 8).string(2, "pytorch").string(3, "2.0.1")
                .message(8, new ProtobufWriter().string(1, "").varint(2, 17))
                .message(8, new ProtobufWriter().string(1, "com.microsoft").varint(2, 1))
                .message(7, graph);
        OnnxModel model = OnnxModel.parse(ByteBuffer.wrap(file.toByteArray()), "test.onnx");
        assertThat(model.irVersion()).isEqualTo(8);
        assertThat(model.producerName()).isEqualTo("pytorch");
        assertThat(model.producerVersion()).isEqualTo("2.0.1");
        assertThat(model.opsetVersion()).isEqualTo(17);
        assertThat(model.graphName()).isEqualTo("main");
        assertThat(model.inputs()).containsExactly("x");
        assertThat(model.outputs()).containsExactly("y");
        OnnxNode read = model.nodes().get(0);
        assertThat(read.opType()).isEqualTo("Gemm");
        assertThat(read.name()).isEqualTo("/encoder/layer.0/MatMul");
        assertThat(read.domain()).isEqualTo("com.example");
        assertThat(read.inputs()).containsExactly("x", "", "w");
        assertThat(read.outputs()).containsExactly("y");
        assertThat(read.attribute("alpha").orElseThrow().floatValue()).isEqualTo(0.5f);
        assertThat(read.attribute("transB").orElseThrow().intValue()).isEqualTo(1);
        assertThat(read.attribute("mode").orElseThrow().stringValue()).isEqualTo("linear");
        assertThat(read.attribute("value").orElseThrow().tensor().orElseThrow().toFloatArray()).containsExactly(1e-12f);
        assertThat(read.attribute("scales").orElseThrow().floats()).containsExactly(1f, 2f);
        assertThat(read.attribute("axes").orElseThrow().ints()).containsExactly(0L, 2L);
        assertThat(read.attribute("missing")).isEmpty();
    }

    @Test
    void testUnknownFieldsOfEveryWireTypeAreSkipped() {
        ProtobufWriter weight = tensor("w", FLOAT, 1).bytes(9, floatBytes(3))
                .varint(99, 1).fixed32(98, 7).fixed64(97, 7).string(96, "ignored").string(12, "doc");
        ProtobufWriter graph = new ProtobufWriter().string(10, "doc").message(5, weight).message(13, new ProtobufWriter().string(1, "value_info")).fixed32(50, 1);
        byte[] file = new ProtobufWriter().varint(5, 3).string(6, "doc").message(14, new ProtobufWriter().string(1, "key")).message(7, graph).fixed64(60, 1).toByteArray();
        assertThat(OnnxModel.parse(ByteBuffer.wrap(file), "test.onnx").initializer("w").toFloatArray()).containsExactly(3f);
    }

    @Test
    void testReadsFilesAndStreams(@TempDir Path directory) throws IOException {
        byte[] bytes = model(new ProtobufWriter().message(5, tensor("w", FLOAT, 2).bytes(9, floatBytes(1, 2))));
        Path file = directory.resolve("model.onnx");
        Files.write(file, bytes);
        assertThat(OnnxModel.read(file).initializer("w").toFloatArray()).containsExactly(1f, 2f);
        assertThat(OnnxModel.read(file).source()).isEqualTo(file.toString());
        assertThat(OnnxModel.read(new ByteArrayInputStream(bytes), "stream").initializer("w").toFloatArray()).containsExactly(1f, 2f);
        assertThatThrownBy(() -> OnnxModel.read(directory.resolve("absent.onnx")))
                .hasMessageStartingWith("cannot read ONNX file " + directory.resolve("absent.onnx"));
    }

    @Test
    void testMalformedFilesFailWithTheFileAndTheProblem() {
        byte[] good = model(new ProtobufWriter().message(5, tensor("w", FLOAT, 2).bytes(9, floatBytes(1, 2))));
        assertThatThrownBy(() -> OnnxModel.parse(ByteBuffer.wrap(Arrays.copyOf(good, good.length - 3)), "cut.onnx"))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageStartingWith("ONNX file cut.onnx: length ")
                .hasMessageContaining("runs past the end of its message");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, tensor("w", FLOAT, 3).bytes(9, floatBytes(1, 2)))))
                .hasMessageStartingWith("ONNX file test.onnx: tensor 'w' (FLOAT, dims [3]) has 8 raw_data bytes, expected 12 at byte ");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, tensor("w", FLOAT, 2).varint(14, 1)
                .message(13, new ProtobufWriter().string(1, "location").string(2, "weights.bin")))))
                .hasMessageContaining("tensor 'w' keeps its data in an external file");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, tensor("w", 17, 1).bytes(9, new byte[] {1}))))
                .hasMessageContaining("tensor 'w': unsupported ONNX data_type 17");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, new ProtobufWriter().string(8, "w").string(2, "not a varint"))))
                .hasMessageContaining("TensorProto.data_type (field 2) has wire type 2, expected 0");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(15, new ProtobufWriter())))
                .hasMessageContaining("sparse initializers");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, tensor("w", FLOAT, 1).bytes(9, floatBytes(1))).message(5, tensor("w", FLOAT, 1).bytes(9, floatBytes(2)))))
                .hasMessageContaining("duplicate initializer 'w'");
        assertThatThrownBy(() -> parse(new ProtobufWriter().message(5, tensor("w", FLOAT, -1))))
                .hasMessageContaining("tensor 'w' has a negative dimension in [-1]");
        assertThatThrownBy(() -> OnnxModel.parse(ByteBuffer.wrap(new ProtobufWriter().string(2, "pytorch").toByteArray()), "empty.onnx"))
                .hasMessage("ONNX file empty.onnx has no graph: is it an ONNX model (.onnx)?");
        byte[] overlong = new byte[12];
        Arrays.fill(overlong, (byte) 0xff);
        overlong[0] = 0x08;
        assertThatThrownBy(() -> OnnxModel.parse(ByteBuffer.wrap(overlong), "overlong.onnx"))
                .hasMessage("ONNX file overlong.onnx: varint longer than 10 bytes at byte 1");
        assertThatThrownBy(() -> OnnxModel.parse(ByteBuffer.wrap(new byte[] {0x4b}), "group.onnx"))
                .hasMessageContaining("unsupported wire type 3");
        assertThatThrownBy(() -> OnnxModel.parse(ByteBuffer.wrap(new byte[] {0x00}), "zero.onnx"))
                .hasMessage("ONNX file zero.onnx: invalid field tag 0 at byte 0");
    }

    /** Fuzzing crasher: dims whose byte count overflowed 64 bits to 0 passed the length check with empty raw_data. */
    @Test
    void testDimsWhoseByteCountOverflowsAreRefused() {
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("forged", DOUBLE, 1L << 62).bytes(9, new byte[0]))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessage("ONNX file test.onnx: tensor 'forged' (DOUBLE, dims [4611686018427387904]) would need more than 9223372036854775807 bytes of raw_data; "
                        + "the dims are wrong at byte 6");
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("forged", FLOAT, 1L << 62).bytes(9, new byte[0]))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 'forged' (FLOAT, dims [4611686018427387904]) would need more than");
    }

    /** Fuzzing crasher: values in a typed field ONNX does not use for the tensor's type reached a converter that read another field. */
    @Test
    void testTypedDataInTheFieldOfAnotherTypeIsRefused() {
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("ids", INT64, 1).packedFloats(4, 1f))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessage("ONNX file test.onnx: tensor 'ids' (INT64, dims [1]) keeps its values in float_data, which ONNX does not use for INT64; "
                        + "the file is corrupt or written by a broken exporter at byte 6");
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("weights", FLOAT, 1).packedVarints(7, 1))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 'weights' (FLOAT, dims [1]) keeps its values in integer data, which ONNX does not use for FLOAT");
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("half", FLOAT16, 1).fixed64(10, Double.doubleToLongBits(1)))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 'half' (FLOAT16, dims [1]) keeps its values in double_data, which ONNX does not use for FLOAT16");
    }

    /** Fuzzing crasher: zero elements with huge other dims passed the length check; creating the DJL array overflowed its strides. */
    @Test
    void testEmptyTensorWhoseOtherDimsOverflowIsRefused() {
        assertThatThrownBy(() -> parseModel(new ProtobufWriter().message(5, tensor("empty", FLOAT, 0, 1L << 62, 1L << 62).bytes(9, new byte[0]))))
                .isInstanceOf(OnnxFormatException.class)
                .hasMessageContaining("tensor 'empty' has dims [0, 4611686018427387904, 4611686018427387904] whose product overflows");
    }

    @Test
    void testValuesOfTheWrongKindAreRefused() {
        OnnxModel model = parseModel(new ProtobufWriter()
                .message(5, tensor("ids", INT64, 1).bytes(9, longBytes(3)))
                .message(5, tensor("w", FLOAT, 1).bytes(9, floatBytes(3))));
        assertThatThrownBy(() -> model.initializer("ids").toFloatArray()).hasMessage("tensor 'ids' holds INT64, not floating-point values");
        assertThatThrownBy(() -> model.initializer("w").toLongArray()).hasMessage("tensor 'w' holds FLOAT, not integer values");
        assertThatThrownBy(() -> model.initializer("absent")).hasMessage("ONNX file test.onnx has no initializer named 'absent'");
    }

    @Test
    void testHalfPrecisionConversionIsExact() {
        assertThat(OnnxTensor.halfToFloat((short) 0x3c00)).isEqualTo(1f);
        assertThat(OnnxTensor.halfToFloat((short) 0xc000)).isEqualTo(-2f);
        assertThat(OnnxTensor.halfToFloat((short) 0x3555)).isEqualTo(0.33325195f);
        assertThat(OnnxTensor.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(OnnxTensor.halfToFloat((short) 0x8400)).isEqualTo(-0x1p-14f);
        assertThat(OnnxTensor.halfToFloat((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(OnnxTensor.halfToFloat((short) 0x7e00)).isNaN();
        assertThat(Float.floatToIntBits(OnnxTensor.halfToFloat((short) 0x8000))).isEqualTo(Float.floatToIntBits(-0f));
    }

    private static ProtobufWriter tensor(String name, int dataType, long... dims) {
        ProtobufWriter tensor = new ProtobufWriter();
        for (long dim : dims) {
            tensor.varint(1, dim);
        }
        return tensor.varint(2, dataType).string(8, name);
    }

    private static byte[] model(ProtobufWriter graph) {
        return new ProtobufWriter().varint(1, 8).message(7, graph).toByteArray();
    }

    private static OnnxModel parseModel(ProtobufWriter graph) {
        return OnnxModel.parse(ByteBuffer.wrap(model(graph)), "test.onnx");
    }

    private static void parse(ProtobufWriter graph) {
        parseModel(graph);
    }
}
