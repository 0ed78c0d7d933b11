package dev.graft.runtime.format;

import ai.djl.ndarray.types.DataType;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The element types of the safetensors format, spelled as in the {@code dtype} field of the header.
 *
 * <p>The constants are declared in increasing alignment, in the order of the Rust {@code safetensors}
 * crate's {@code Dtype} enum; {@link SafetensorsWriter.TensorOrder#CANONICAL} relies on this order.
 */
public enum Dtype {
    BOOL(1, DataType.BOOLEAN),
    U8(1, DataType.UINT8),
    I8(1, DataType.INT8),
    F8_E5M2(1, null),
    F8_E4M3(1, null),
    I16(2, DataType.INT16),
    U16(2, DataType.UINT16),
    F16(2, DataType.FLOAT16),
    BF16(2, DataType.BFLOAT16),
    I32(4, DataType.INT32),
    U32(4, DataType.UINT32),
    F32(4, DataType.FLOAT32),
    F64(8, DataType.FLOAT64),
    I64(8, DataType.INT64),
    U64(8, DataType.UINT64);

    private final int byteSize;
    private final DataType dataType;

    Dtype(int byteSize, DataType dataType) {
        this.byteSize = byteSize;
        this.dataType = dataType;
    }

    /** The size of one element in bytes. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * The DJL data type with the same memory layout, if DJL has one. Having one does not mean that an
     * engine can hold it: see {@link SafetensorsFile#load(String, ai.djl.ndarray.NDManager)}.
     */
    public Optional<DataType> dataType() {
        return Optional.ofNullable(dataType);
    }

    /** The dtype spelled {@code name} in a safetensors header (case-sensitive, as in the format). */
    public static Optional<Dtype> fromName(String name) {
        requireNonNull(name, "name is null");
        for (Dtype dtype : values()) {
            if (dtype.name().equals(name)) {
                return Optional.of(dtype);
            }
        }
        return Optional.empty();
    }

    /** The dtype that stores DJL's {@code dataType} bit for bit. */
    public static Dtype fromDataType(DataType dataType) {
        requireNonNull(dataType, "dataType is null");
        for (Dtype dtype : values()) {
            if (dtype.dataType == dataType) {
                return dtype;
            }
        }
        throw new SafetensorsException(format("DJL data type %s has no safetensors dtype; convert the array to one of %s first",
                dataType, Arrays.stream(values()).filter(dtype -> dtype.dataType != null).map(dtype -> dtype.dataType.toString()).collect(Collectors.joining(", "))));
    }

    /** All dtype names, comma-separated, for error messages. */
    static String names() {
        return Arrays.stream(values()).map(Dtype::name).collect(Collectors.joining(", "));
    }
}
