package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import static dev.graft.runtime.format.SafetensorsBytes.bytes;
import static dev.graft.runtime.format.SafetensorsBytes.file;
import static dev.graft.runtime.format.SafetensorsBytes.floats;
import static dev.graft.runtime.format.SafetensorsBytes.shorts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(PyTorchManagers.class)
final class TestSafetensorsWriter {
    @TempDir
    Path directory;

    /** The byte-exact expectations of the Rust crate's {@code test_serialization} and {@code test_serialization_forced_alignement}. */
    @Test
    void testWritesTheBytesOfTheRustCrate(NDManager manager) throws IOException {
        Path unpadded = directory.resolve("unpadded.safetensors");
        new SafetensorsWriter().add("attn.0", manager.create(new float[] {0, 1, 2, 3, 4, 5}, new Shape(1, 2, 3))).write(unpadded);
        assertThat(Files.readAllBytes(unpadded)).containsExactly(
                file("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", floats(0, 1, 2, 3, 4, 5)));

        Path padded = directory.resolve("padded.safetensors");
        new SafetensorsWriter().add("attn0", manager.create(new float[] {0, 1, 2, 3, 4, 5}, new Shape(1, 1, 2, 3))).write(padded);
        assertThat(Files.readAllBytes(padded)).containsExactly(
                file("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", floats(0, 1, 2, 3, 4, 5)));
    }

    /** The byte-exact expectations of the Rust crate's {@code test_empty}. */
    @Test
    void testWritesEmptyFilesLikeTheRustCrate() throws IOException {
        Path empty = directory.resolve("empty.safetensors");
        new SafetensorsWriter().write(empty);
        assertThat(Files.readAllBytes(empty)).containsExactly(file("{}      ", new byte[0]));

        Path withMetadata = directory.resolve("metadata.safetensors");
        new SafetensorsWriter().metadata("framework", "pt").write(withMetadata);
        assertThat(Files.readAllBytes(withMetadata)).containsExactly(file("{\"__metadata__\":{\"framework\":\"pt\"}}     ", new byte[0]));
    }

    @Test
    void testCanonicalOrderIsAlignmentThenName() {
        SafetensorsWriter writer = new SafetensorsWriter()
                .add("b", Dtype.F16, List.of(1L), ByteBuffer.wrap(shorts(0x3C00)))
                .add("d", Dtype.F32, List.of(1L), ByteBuffer.wrap(floats(1)))
                .add("e", Dtype.U8, List.of(3L), ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .add("c", Dtype.I64, List.of(1L), ByteBuffer.allocate(8))
                .add("a", Dtype.F32, List.of(1L), ByteBuffer.wrap(floats(2)))
                .add("B", Dtype.BF16, List.of(1L), ByteBuffer.wrap(shorts(0x3F80)));

        assertThat(new String(writer.header(), StandardCharsets.UTF_8)).isEqualTo("{"
                + "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                + "\"B\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[16,18]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[18,20]},"
                + "\"e\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[20,23]}}");
    }

    @Test
    void testAsGivenOrderKeepsTheCallOrder(NDManager manager) {
        Path path = directory.resolve("given.safetensors");
        new SafetensorsWriter()
                .order(SafetensorsWriter.TensorOrder.AS_GIVEN)
                .add("z.weight", manager.create(new float[] {1, 2}))
                .add("a.weight", manager.create(new long[] {3}))
                .add("m.weight", manager.create(new float[] {4}))
                .write(path);

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.names()).containsExactly("z.weight", "a.weight", "m.weight");
            assertThat(safetensors.info("a.weight").dataBegin()).isEqualTo(8);
            assertThat(safetensors.load("m.weight", manager).toFloatArray()).containsExactly(4f);
        }
    }

    @Test
    void testSameInputGivesSameBytes(NDManager manager) throws IOException {
        Map<String, String> metadata = new HashMap<>();
        for (int index = 0; index < 20; index++) {
            metadata.put("key" + index, "value" + index);
        }
        LinkedHashMap<String, NDArray> forward = new LinkedHashMap<>();
        LinkedHashMap<String, NDArray> backward = new LinkedHashMap<>();
        List<String> names = List.of("layers.0.lora_A.weight", "layers.0.lora_B.weight", "layers.1.lora_A.weight", "bias");
        for (int index = 0; index < names.size(); index++) {
            NDArray array = manager.randomNormal(new Shape(3, index + 1));
            forward.put(names.get(index), array);
        }
        for (int index = names.size() - 1; index >= 0; index--) {
            backward.put(names.get(index), forward.get(names.get(index)));
        }
        Path first = directory.resolve("first.safetensors");
        Path second = directory.resolve("second.safetensors");
        SafetensorsWriter.write(first, forward, metadata);
        SafetensorsWriter.write(second, backward, new LinkedHashMap<>(metadata));

        assertThat(Files.readAllBytes(first)).isEqualTo(Files.readAllBytes(second));
        try (SafetensorsFile safetensors = SafetensorsFile.open(first)) {
            assertThat(safetensors.names()).containsExactly("bias", "layers.0.lora_A.weight", "layers.0.lora_B.weight", "layers.1.lora_A.weight");
            assertThat(safetensors.metadata()).containsExactlyEntriesOf(new TreeMap<>(metadata));
        }
    }

    @Test
    void testEveryDtypeRoundTripsBitExactly() {
        Random random = new Random(7);
        SafetensorsWriter writer = new SafetensorsWriter();
        Map<Dtype, byte[]> written = new LinkedHashMap<>();
        for (Dtype dtype : Dtype.values()) {
            byte[] data = new byte[6 * dtype.byteSize()];
            random.nextBytes(data);
            if (dtype == Dtype.BOOL) {
                for (int index = 0; index < data.length; index++) {
                    data[index] = (byte) (data[index] & 1);
                }
            }
            written.put(dtype, data);
            writer.add(dtype.name().toLowerCase(), dtype, List.of(2L, 3L), ByteBuffer.wrap(data));
        }
        Path path = directory.resolve("every.safetensors");
        writer.write(path);

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            for (Map.Entry<Dtype, byte[]> entry : written.entrySet()) {
                String name = entry.getKey().name().toLowerCase();
                assertThat(safetensors.info(name).dtype()).isEqualTo(entry.getKey());
                assertThat(safetensors.info(name).shape()).containsExactly(2L, 3L);
                assertThat(bytes(safetensors.data(name))).as(name).containsExactly(entry.getValue());
            }
        }
    }

    @Test
    void testArraysOfEveryEngineTypeRoundTrip(NDManager manager) {
        LinkedHashMap<String, NDArray> arrays = new LinkedHashMap<>();
        arrays.put("f32", manager.create(new float[] {1.5f, -0f, Float.MIN_VALUE, Float.NaN}, new Shape(2, 2)));
        arrays.put("f64", manager.create(new double[] {Math.PI, -1e300}));
        arrays.put("f16", manager.create(new float[] {0.1f, 65504f, -2f}).toType(DataType.FLOAT16, false));
        arrays.put("i64", manager.create(new long[] {Long.MIN_VALUE, 42}));
        arrays.put("i32", manager.create(new int[] {Integer.MAX_VALUE, -9}, new Shape(1, 2)));
        arrays.put("i8", manager.create(new byte[] {-128, 127}).toType(DataType.INT8, false));
        arrays.put("u8", manager.create(new byte[] {(byte) 255, 3}).toType(DataType.UINT8, false));
        arrays.put("bool", manager.create(new boolean[] {true, false, true}));
        Path path = directory.resolve("arrays.safetensors");
        SafetensorsWriter.write(path, arrays, Map.of());

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            for (Map.Entry<String, NDArray> entry : arrays.entrySet()) {
                NDArray loaded = safetensors.load(entry.getKey(), manager);
                assertThat(loaded.getDataType()).as(entry.getKey()).isEqualTo(entry.getValue().getDataType());
                assertThat(loaded.getShape()).as(entry.getKey()).isEqualTo(entry.getValue().getShape());
                assertThat(bytes(loaded.toByteBuffer())).as(entry.getKey()).containsExactly(bytes(entry.getValue().toByteBuffer()));
            }
            assertThat(safetensors.info("f16").dtype()).isEqualTo(Dtype.F16);
            assertThat(safetensors.info("bool").dtype()).isEqualTo(Dtype.BOOL);
        }
    }

    @Test
    void testBfloat16RoundTripsThroughFloat32BitExactly(NDManager manager) {
        // 1.0, -3.0, the smallest subnormal, the largest finite, -infinity, a quiet NaN, -0
        byte[] original = shorts(0x3F80, 0xC040, 0x0001, 0x7F7F, 0xFF80, 0x7FC0, 0x8000);
        Path source = directory.resolve("source.safetensors");
        new SafetensorsWriter().add("w", Dtype.BF16, List.of(7L), ByteBuffer.wrap(original)).write(source);
        Path copy = directory.resolve("copy.safetensors");

        try (SafetensorsFile safetensors = SafetensorsFile.open(source)) {
            NDArray widened = safetensors.load("w", manager);
            assertThat(widened.getDataType()).isEqualTo(DataType.FLOAT32);
            new SafetensorsWriter().add("w", widened, Dtype.BF16).write(copy);
        }
        try (SafetensorsFile safetensors = SafetensorsFile.open(copy)) {
            assertThat(safetensors.info("w").dtype()).isEqualTo(Dtype.BF16);
            assertThat(bytes(safetensors.data("w"))).containsExactly(original);
        }
    }

    @Test
    void testFloat32RoundsToBfloat16ToNearestEven() {
        assertThat(TensorConversions.float32ToBfloat16(0x3F80_8000)).as("tie, even below").isEqualTo((short) 0x3F80);
        assertThat(TensorConversions.float32ToBfloat16(0x3F81_8000)).as("tie, odd below").isEqualTo((short) 0x3F82);
        assertThat(TensorConversions.float32ToBfloat16(0x3F80_8001)).as("above the tie").isEqualTo((short) 0x3F81);
        assertThat(TensorConversions.float32ToBfloat16(0x3F80_7FFF)).as("below the tie").isEqualTo((short) 0x3F80);
        assertThat(TensorConversions.float32ToBfloat16(0x7F7F_FFFF)).as("largest float32 overflows").isEqualTo((short) 0x7F80);
        assertThat(TensorConversions.float32ToBfloat16(0x7F80_0001)).as("signalling NaN stays NaN").isEqualTo((short) 0x7FC0);
        assertThat(TensorConversions.float32ToBfloat16(0xBF80_0000)).as("-1").isEqualTo((short) 0xBF80);
    }

    @Test
    void testStoresArraysInAnotherDtype(NDManager manager) {
        Path path = directory.resolve("converted.safetensors");
        new SafetensorsWriter()
                .add("half", manager.create(new float[] {1f, -2f, 0.5f}), Dtype.F16)
                .add("wide", manager.create(new int[] {5, -6}), Dtype.I64)
                .write(path);

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(bytes(safetensors.data("half"))).containsExactly(shorts(0x3C00, 0xC000, 0x3800));
            assertThat(safetensors.data("wide").order(ByteOrder.LITTLE_ENDIAN).getLong(8)).isEqualTo(-6L);
        }
        NDArray doubles = manager.create(new double[] {1});
        assertThatThrownBy(() -> new SafetensorsWriter().add("w", doubles, Dtype.BF16))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith("Cannot store tensor 'w' (a float64 array) as BF16; store it as F64, as BF16 from FLOAT32, or as one of");
        NDArray floats = manager.create(new float[] {1});
        assertThatThrownBy(() -> new SafetensorsWriter().add("w", floats, Dtype.I16))
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith("Cannot store tensor 'w' (a float32 array) as I16");
    }

    @Test
    void testRejectsBadEntries(NDManager manager) {
        NDArray array = manager.create(new float[] {1});
        SafetensorsWriter writer = new SafetensorsWriter().add("w", array);

        assertThatThrownBy(() -> writer.add("w", array))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Tensor 'w' was added twice; tensor names must be unique");
        assertThatThrownBy(() -> writer.add("__metadata__", array))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("A tensor cannot be named '__metadata__': the format reserves it for metadata");
        assertThatThrownBy(() -> writer.add("raw", Dtype.F32, List.of(2L, 2L), ByteBuffer.allocate(12)))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Tensor 'raw' has 12 bytes but dtype F32 with shape [2, 2] needs 16 bytes");
        assertThatThrownBy(() -> writer.add("raw", Dtype.F32, List.of(-1L), ByteBuffer.allocate(4)))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Tensor 'raw' has a negative dimension in shape [-1]");
    }

    @Test
    void testReplacesAnExistingFileAndCreatesDirectories(NDManager manager) throws IOException {
        Path path = directory.resolve("nested/adapter/adapter_model.safetensors");
        new SafetensorsWriter().add("w", manager.create(new float[] {1})).write(path);
        new SafetensorsWriter().add("w", manager.create(new float[] {2, 3})).write(path);

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.load("w", manager).toFloatArray()).containsExactly(2f, 3f);
        }
        assertThat(listing(path.getParent())).containsExactly("adapter_model.safetensors");
    }

    @Test
    void testFailedWriteLeavesThePreviousFileAndNoTemporaryFile(NDManager manager) throws IOException {
        Path path = directory.resolve("adapter_model.safetensors");
        new SafetensorsWriter().add("w", manager.create(new float[] {1, 2, 3})).write(path);
        byte[] before = Files.readAllBytes(path);

        NDArray released = manager.create(new float[] {4, 5});
        released.getShape();
        released.getDataType();
        released.close();
        SafetensorsWriter failing = new SafetensorsWriter()
                .order(SafetensorsWriter.TensorOrder.AS_GIVEN)
                .add("a_large_tensor_written_first", manager.ones(new Shape(256, 256)))
                .add("released", released);

        assertThatThrownBy(() -> failing.write(path))
                .isInstanceOf(SafetensorsException.class)
                .hasMessage("Cannot write safetensors file " + path + ": cannot read tensor 'released': Native resource has been released already.");
        assertThat(Files.readAllBytes(path)).isEqualTo(before);
        assertThat(listing(directory)).containsExactly("adapter_model.safetensors");
    }

    @Test
    void testWriterOutputPassesTheReader(NDManager manager) {
        Path path = directory.resolve("odd.safetensors");
        new SafetensorsWriter()
                .add("odd_bytes", Dtype.U8, List.of(3L), ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .add("scalar", manager.create(2.5f))
                .add("empty", manager.create(new float[0], new Shape(0, 4)))
                .metadata(Map.of("format", "pt", "note", "ünïcode \"quoted\"\n"))
                .write(path);

        try (SafetensorsFile safetensors = SafetensorsFile.open(path)) {
            assertThat(safetensors.names()).containsExactly("empty", "scalar", "odd_bytes");
            assertThat(safetensors.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("note", "ünïcode \"quoted\"\n"));
            assertThat(safetensors.load("scalar", manager).getShape()).isEqualTo(new Shape());
            assertThat(safetensors.info("empty").byteSize()).isZero();
        }
    }

    private static List<String> listing(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        }
    }
}
