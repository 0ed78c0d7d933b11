package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.graft.runtime.format.SafetensorsBytes.bytes;
import static dev.graft.runtime.format.SafetensorsBytes.file;
import static dev.graft.runtime.format.SafetensorsBytes.floats;
import static dev.graft.runtime.format.SafetensorsBytes.ints;
import static dev.graft.runtime.format.SafetensorsBytes.shorts;
import static dev.graft.runtime.format.SafetensorsBytes.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(PyTorchManagers.class)
final class TestSafetensorsFile {
    @TempDir
    Path directory;

    @Test
    void testReadsHandBuiltFile(NDManager manager) {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";
        Path path = write(directory.resolve("hand.safetensors"), file(header, floats(1.5f, -2f, 3.25f, 0f, 1e-3f, 7f, 0.5f, -0.5f, 100f)));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.names()).containsExactly("weight", "bias");
            assertThat(safetensors.metadata()).containsExactly(Map.entry("format", "pt"));
            assertThat(safetensors.info("weight")).isEqualTo(new TensorInfo("weight", Dtype.F32, List.of(2L, 3L), 0, 24));
            assertThat(safetensors.info("bias").elementCount()).isEqualTo(3);

            ByteBuffer bias = safetensors.data("bias");
            assertThat(bias.isReadOnly()).isTrue();
            assertThat(bias.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(bias.getFloat(0)).isEqualTo(0.5f);
            assertThat(bias.getFloat(8)).isEqualTo(100f);

            NDArray weight = safetensors.load("weight", manager);
            assertThat(weight.getName()).isEqualTo("weight");
            assertThat(weight.getShape()).isEqualTo(new Shape(2, 3));
            assertThat(weight.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(weight.toFloatArray()).containsExactly(1.5f, -2f, 3.25f, 0f, 1e-3f, 7f);
        }
    }

    @Test
    void testNamesFollowTheHeaderNotTheOffsets() {
        String header = "{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        Path path = write(directory.resolve("order.safetensors"), file(header, new byte[] {1, 2, 3, 4}));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.names()).containsExactly("z", "a");
            assertThat(bytes(safetensors.data("z"))).containsExactly(3, 4);
            assertThat(safetensors.metadata()).isEmpty();
        }
    }

    @Test
    void testLoadsFloat16AsItselfOrAsFloat32(NDManager manager) {
        // 1.0, -2.0, 0.5, 65504 (the largest float16)
        byte[] data = shorts(0x3C00, 0xC000, 0x3800, 0x7BFF);
        Path path = write(directory.resolve("half.safetensors"), file("{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            NDArray half = safetensors.load("h", manager);
            assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(bytes(half.toByteBuffer())).containsExactly(data);

            NDArray single = safetensors.load("h", manager, DataType.FLOAT32);
            assertThat(single.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(single.getShape()).isEqualTo(new Shape(2, 2));
            assertThat(single.toFloatArray()).containsExactly(1f, -2f, 0.5f, 65504f);
        }
    }

    @Test
    void testLoadsBfloat16AsFloat32Exactly(NDManager manager) {
        // 1.0, -3.0, 1.5, +infinity, 3.0e38 (0x7F61 = 0x7F610000 as float32)
        byte[] data = shorts(0x3F80, 0xC040, 0x3FC0, 0x7F80, 0x7F61);
        Path path = write(directory.resolve("brain.safetensors"), file("{\"b\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[0,10]}}", data));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            NDArray loaded = safetensors.load("b", manager);
            assertThat(loaded.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(loaded.toFloatArray()).containsExactly(1f, -3f, 1.5f, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x7F610000));

            // as float16, infinity stays infinite but the finite 3.0e38 would become infinite too: refused, not clamped
            assertThatThrownBy(() -> safetensors.load("b", manager, DataType.FLOAT16))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("Cannot load tensor 'b' of " + path + " as FLOAT16: element 4 of shape [5] is 2.9907629905160607E38 (BF16)");

            assertThatThrownBy(() -> safetensors.load("b", manager, DataType.BFLOAT16))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("Cannot load tensor 'b' of " + path + " as bfloat16: DJL's PyTorch engine cannot hold bfloat16 arrays");
        }
    }

    @Test
    void testWidensIntegerTypesTheEngineCannotHold(NDManager manager) {
        String header = "{\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"u16\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                + "\"u32\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[16,24]}}";
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) -7).putShort((short) 300)
                .putShort((short) 0xFFFF).putShort((short) 2)
                .putInt(0xFFFF_FFFE).putInt(5)
                .putLong(9);
        Path path = write(directory.resolve("integers.safetensors"), file(header, data.array()));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            NDArray signed16 = safetensors.load("i16", manager);
            assertThat(signed16.getDataType()).isEqualTo(DataType.INT32);
            assertThat(signed16.toIntArray()).containsExactly(-7, 300);
            assertThat(safetensors.load("u16", manager).toIntArray()).containsExactly(65535, 2);
            NDArray unsigned32 = safetensors.load("u32", manager);
            assertThat(unsigned32.getDataType()).isEqualTo(DataType.INT64);
            assertThat(unsigned32.toLongArray()).containsExactly(4_294_967_294L, 5L);
            assertThatThrownBy(() -> safetensors.load("u64", manager))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("dtype U64 has no lossless DJL counterpart");
        }
    }

    @Test
    void testScalarAndEmptyTensors(NDManager manager) {
        String header = "{\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                + "\"also_empty\":{\"dtype\":\"I64\",\"shape\":[2,0],\"data_offsets\":[4,4]}}";
        Path path = write(directory.resolve("edge.safetensors"), file(header, floats(2.5f)));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            NDArray scalar = safetensors.load("scalar", manager);
            assertThat(scalar.getShape()).isEqualTo(new Shape());
            assertThat(scalar.getFloat()).isEqualTo(2.5f);
            NDArray empty = safetensors.load("empty", manager);
            assertThat(empty.getShape()).isEqualTo(new Shape(0, 3));
            assertThat(safetensors.data("also_empty").remaining()).isZero();
        }
    }

    @Test
    void testReadsTensorsBeyondTwoGibibytes(NDManager manager) throws IOException {
        long padding = (1L << 31) + 16;
        String header = String.format("{\"padding\":{\"dtype\":\"U8\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[%d,%d]}}", padding, padding, padding, padding + 16);
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + headerBytes.length;
        Path path = directory.resolve("sparse.safetensors");
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).array());
            file.write(headerBytes);
            // a sparse file: the 2 GiB of padding are never written
            file.setLength(dataStart + padding + 16);
            file.seek(dataStart + padding);
            file.write(floats(1f, -2f, 3f, 4.5f));
        }

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.info("tail").dataBegin()).isGreaterThan(Integer.MAX_VALUE);
            assertThat(safetensors.data("tail").getFloat(12)).isEqualTo(4.5f);
            assertThat(safetensors.load("tail", manager).toFloatArray()).containsExactly(1f, -2f, 3f, 4.5f);
            assertThatThrownBy(() -> safetensors.data("padding"))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessageContaining("Cannot view tensor 'padding' of " + path + " as one buffer: it is 2147483664 bytes, over the 2 GiB limit");
        }
    }

    @Test
    void testUnknownTensorNamesTheAvailableOnes() {
        Path path = write(directory.resolve("one.safetensors"), file("{\"only\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", ints(42)));

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.contains("only")).isTrue();
            assertThat(safetensors.contains("other")).isFalse();
            assertThatThrownBy(() -> safetensors.info("other"))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessage("Safetensors file " + path + " has no tensor 'other'; it has 1 tensors, for example: only");
        }
    }

    @Test
    void testClosedFileRefusesData(NDManager manager) {
        Path path = write(directory.resolve("closed.safetensors"), file("{\"x\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", ints(7)));
        SafetensorsFile safetensors = SafetensorsFile.open(path);
        NDArray loaded = safetensors.load("x", manager);
        safetensors.close();

        assertThat(loaded.toIntArray()).containsExactly(7);
        assertThatThrownBy(() -> safetensors.data("x"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("Safetensors file " + path + " is closed");
    }

    @Test
    void testMissingFile() {
        Path path = directory.resolve("absent.safetensors");

        assertThatThrownBy(() -> SafetensorsFile.open(path))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith("Cannot open safetensors file " + path + ": java.nio.file.NoSuchFileException");
    }
}
