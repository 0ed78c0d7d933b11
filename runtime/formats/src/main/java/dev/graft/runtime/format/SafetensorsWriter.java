package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.graft.runtime.error.IoErrors;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * Writes a safetensors file, deterministically and atomically.
 *
 * <p><b>Layout.</b> The header is compact JSON ({@code {"__metadata__":{...},"name":{"dtype":...,"shape":[...],
 * "data_offsets":[begin,end]},...}}): {@code __metadata__} first when there is any, its keys sorted; each
 * tensor's fields in the order dtype, shape, data_offsets; spaces pad the header so that the data starts
 * at a multiple of 8 bytes. Tensors are laid out in {@link TensorOrder#CANONICAL} order by default, the
 * order of Hugging Face's {@code safetensors} (dtype alignment descending, then name), which keeps every
 * tensor aligned to its element size and makes the bytes identical to what {@code safetensors.torch.save_file}
 * writes for the same tensors and at most one metadata key (with more keys the Python library's order
 * is not deterministic; ours is sorted). {@link TensorOrder#AS_GIVEN} keeps the order of the calls to
 * {@code add} instead. The same input always gives the same bytes.
 *
 * <p><b>Atomicity.</b> {@link #write} writes a temporary file in the target's directory, forces it to disk,
 * then renames it over the target atomically and forces the directory. If anything fails, the temporary
 * file is deleted and the target, if it existed, is untouched.
 *
 * <p>Array bytes are read when {@link #write} runs, not when they are added. DJL's PyTorch engine cannot
 * hold bfloat16 arrays, so a FLOAT32 array is stored as BF16 by rounding in Java (to nearest, ties to even,
 * as PyTorch rounds): {@code add(name, array, Dtype.BF16)}.
 */
public final class SafetensorsWriter {
    /** The order of the tensors in the header and in the data buffer. */
    public enum TensorOrder {
        /** Dtype alignment descending, then name (UTF-8 bytes): the order of Hugging Face's writer. */
        CANONICAL,
        /** The order in which the tensors were added. */
        AS_GIVEN
    }

    private static final JsonFactory JSON = new JsonFactory();
    private static final int ALIGNMENT = 8;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new TreeMap<>();
    private TensorOrder order = TensorOrder.CANONICAL;

    /** A writer with no tensors, no metadata and {@link TensorOrder#CANONICAL} order. */
    public SafetensorsWriter() {}

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file} in {@link TensorOrder#CANONICAL} order,
     * each array in its own dtype.
     */
    public static void write(Path file, LinkedHashMap<String, NDArray> tensors, Map<String, String> metadata) {
        requireNonNull(tensors, "tensors is null");
        requireNonNull(metadata, "metadata is null");
        SafetensorsWriter writer = new SafetensorsWriter();
        tensors.forEach(writer::add);
        writer.metadata(metadata);
        writer.write(file);
    }

    /** Adds {@code array}, stored in the dtype of its DJL data type. */
    public SafetensorsWriter add(String name, NDArray array) {
        requireNonNull(array, "array is null");
        return add(name, array, Dtype.fromDataType(array.getDataType()));
    }

    /**
     * Adds {@code array}, stored as {@code storedAs}: its own dtype, BF16 for a FLOAT32 array, or any dtype
     * DJL's PyTorch engine can convert the array to (F32, F64, F16, I64, I32, I8, U8, BOOL).
     */
    public SafetensorsWriter add(String name, NDArray array, Dtype storedAs) {
        requireNonNull(array, "array is null");
        requireNonNull(storedAs, "storedAs is null");
        DataType source = array.getDataType();
        Dtype sourceDtype = Dtype.fromDataType(source);
        boolean convertible = storedAs == sourceDtype
                || (storedAs == Dtype.BF16 && source == DataType.FLOAT32)
                || (storedAs.dataType().filter(TensorConversions::engineCanHold).isPresent() && TensorConversions.engineCanHold(source));
        if (!convertible) {
            throw new SafetensorsException(format("Cannot store tensor '%s' (a %s array) as %s; store it as %s, as BF16 from FLOAT32, or as one of %s",
                    name, source, storedAs, sourceDtype, TensorConversions.engineTypes()));
        }
        List<Long> shape = Arrays.stream(array.getShape().getShape()).boxed().toList();
        return put(new ArrayEntry(checkName(name), storedAs, shape, array));
    }

    /**
     * Adds raw tensor bytes: the {@code remaining()} bytes of {@code data}, little-endian and row-major,
     * exactly {@code product(shape) × dtype size} of them. The buffer's position is not changed; its bytes
     * are read when {@link #write} runs.
     */
    public SafetensorsWriter add(String name, Dtype dtype, List<Long> shape, ByteBuffer data) {
        requireNonNull(dtype, "dtype is null");
        requireNonNull(data, "data is null");
        String checkedName = checkName(name);
        List<Long> checkedShape = List.copyOf(requireNonNull(shape, "shape is null"));
        long expected;
        try {
            if (checkedShape.stream().anyMatch(dimension -> dimension < 0)) {
                throw new SafetensorsException(format("Tensor '%s' has a negative dimension in shape %s", checkedName, checkedShape));
            }
            expected = Math.multiplyExact(TensorInfo.elementCount(checkedShape), dtype.byteSize());
        }
        catch (ArithmeticException e) {
            throw new SafetensorsException(format("Tensor '%s' has shape %s, whose size overflows 64 bits", checkedName, checkedShape));
        }
        if (data.remaining() != expected) {
            throw new SafetensorsException(format("Tensor '%s' has %d bytes but dtype %s with shape %s needs %d bytes",
                    checkedName, data.remaining(), dtype, checkedShape, expected));
        }
        return put(new BufferEntry(checkedName, dtype, checkedShape, data.duplicate()));
    }

    /** Sets a metadata entry; keys are written sorted. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(requireNonNull(key, "key is null"), requireNonNull(value, "value is null"));
        return this;
    }

    /** Sets all the entries of {@code entries} as metadata. */
    public SafetensorsWriter metadata(Map<String, String> entries) {
        requireNonNull(entries, "entries is null").forEach(this::metadata);
        return this;
    }

    /** Sets the order of the tensors in the file. */
    public SafetensorsWriter order(TensorOrder order) {
        this.order = requireNonNull(order, "order is null");
        return this;
    }

    /**
     * Writes the file atomically: {@code file} ends up either complete or as it was before.
     * Missing parent directories are created.
     *
     * @throws SafetensorsException if a tensor cannot be read or the file cannot be written
     */
    public void write(Path file) {
        requireNonNull(file, "file is null");
        List<Entry> ordered = orderedEntries();
        byte[] header = header(ordered);
        Path target = file.toAbsolutePath();
        Path directory = target.getParent();
        Path temporary = directory.resolve(format(".%s.%016x.tmp", target.getFileName(), RANDOM.nextLong()));
        try {
            Files.createDirectories(directory);
            writeTemporary(temporary, header, ordered);
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        catch (IOException | RuntimeException | Error e) {
            if (!(e instanceof FileAlreadyExistsException)) {
                try {
                    Files.deleteIfExists(temporary);
                }
                catch (IOException deleteFailure) {
                    e.addSuppressed(deleteFailure);
                }
            }
            if (e instanceof AtomicMoveNotSupportedException) {
                throw new SafetensorsException(format("Cannot write %s: the file system cannot rename atomically, so the file could be left half-written", file), e);
            }
            if (e instanceof IOException) {
                throw new SafetensorsException(format("Cannot write safetensors file %s: %s", file, IoErrors.describe((IOException) e)), e);
            }
            if (e instanceof SafetensorsException) {
                throw new SafetensorsException(format("Cannot write safetensors file %s: %s", file, e.getMessage()), e);
            }
            if (e instanceof RuntimeException runtimeException) {
                throw runtimeException;
            }
            throw (Error) e;
        }
        forceDirectory(directory);
    }

    private static void writeTemporary(Path temporary, byte[] header, List<Entry> ordered) throws IOException {
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(channel, ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
            writeFully(channel, ByteBuffer.wrap(header));
            for (Entry entry : ordered) {
                ByteBuffer bytes = entry.bytes();
                if (bytes.remaining() != entry.byteSize()) {
                    throw new SafetensorsException(format("tensor '%s' produced %d bytes but its header entry promises %d",
                            entry.name(), bytes.remaining(), entry.byteSize()));
                }
                writeFully(channel, bytes);
            }
            channel.force(true);
        }
    }

    /** The header bytes, padded, for the current entries and order. */
    byte[] header() {
        return header(orderedEntries());
    }

    private List<Entry> orderedEntries() {
        List<Entry> ordered = new ArrayList<>(entries.values());
        if (order == TensorOrder.CANONICAL) {
            Comparator<Entry> byAlignment = Comparator.comparing(Entry::dtype).reversed();
            ordered.sort(byAlignment.thenComparing((left, right) -> Arrays.compareUnsigned(
                    left.name().getBytes(StandardCharsets.UTF_8), right.name().getBytes(StandardCharsets.UTF_8))));
        }
        return ordered;
    }

    private byte[] header(List<Entry> ordered) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator generator = JSON.createGenerator(out)) {
            generator.writeStartObject();
            if (!metadata.isEmpty()) {
                generator.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> entry : metadata.entrySet()) {
                    generator.writeStringField(entry.getKey(), entry.getValue());
                }
                generator.writeEndObject();
            }
            long offset = 0;
            for (Entry entry : ordered) {
                generator.writeObjectFieldStart(entry.name());
                generator.writeStringField("dtype", entry.dtype().name());
                generator.writeArrayFieldStart("shape");
                for (long dimension : entry.shape()) {
                    generator.writeNumber(dimension);
                }
                generator.writeEndArray();
                generator.writeArrayFieldStart("data_offsets");
                generator.writeNumber(offset);
                offset = Math.addExact(offset, entry.byteSize());
                generator.writeNumber(offset);
                generator.writeEndArray();
                generator.writeEndObject();
            }
            generator.writeEndObject();
        }
        catch (IOException e) {
            throw new UncheckedIOException("cannot encode a safetensors header in memory", e);
        }
        int padding = (ALIGNMENT - out.size() % ALIGNMENT) % ALIGNMENT;
        for (int index = 0; index < padding; index++) {
            out.write(' ');
        }
        if (out.size() > SafetensorsHeader.MAX_HEADER_LENGTH) {
            throw new SafetensorsException(format("The header of %d tensors is %d bytes, over the %d-byte limit readers enforce; split the tensors over several files",
                    ordered.size(), out.size(), SafetensorsHeader.MAX_HEADER_LENGTH));
        }
        return out.toByteArray();
    }

    private SafetensorsWriter put(Entry entry) {
        if (entries.containsKey(entry.name())) {
            throw new SafetensorsException(format("Tensor '%s' was added twice; tensor names must be unique", entry.name()));
        }
        entries.put(entry.name(), entry);
        return this;
    }

    private static String checkName(String name) {
        requireNonNull(name, "name is null");
        if (name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new SafetensorsException(format("A tensor cannot be named '%s': the format reserves it for metadata", name));
        }
        return name;
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Forces the rename to disk; some file systems cannot open a directory, and then there is nothing more to do. */
    private static void forceDirectory(Path directory) {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
        catch (IOException ignored) {
            // the rename happened; a directory that cannot be opened or forced is not an error
        }
    }

    /** One tensor to write. */
    private interface Entry {
        String name();

        Dtype dtype();

        List<Long> shape();

        /** The bytes, little-endian, positioned at the first one. */
        ByteBuffer bytes();

        default long byteSize() {
            return TensorInfo.elementCount(shape()) * dtype().byteSize();
        }
    }

    private record BufferEntry(String name, Dtype dtype, List<Long> shape, ByteBuffer data) implements Entry {
        @Override
        public ByteBuffer bytes() {
            return data.duplicate();
        }
    }

    private record ArrayEntry(String name, Dtype dtype, List<Long> shape, NDArray array) implements Entry {
        @Override
        public ByteBuffer bytes() {
            try {
                DataType source = array.getDataType();
                if (Dtype.fromDataType(source) == dtype) {
                    return array.toByteBuffer();
                }
                if (dtype == Dtype.BF16) {
                    return TensorConversions.float32ToBfloat16(array.toByteBuffer());
                }
                try (NDArray converted = array.toType(dtype.dataType().orElseThrow(), false)) {
                    return converted.toByteBuffer();
                }
            }
            catch (SafetensorsException e) {
                throw e;
            }
            catch (RuntimeException e) {
                throw new SafetensorsException(format("cannot read tensor '%s': %s", name, e.getMessage()), e);
            }
        }
    }
}
