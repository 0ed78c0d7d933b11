package dev.graft.runtime.onnx;

import static java.lang.String.format;

/** ONNX's {@code TensorProto.DataType}: the code in the file and the width of one element in {@code raw_data}. */
public enum OnnxDataType {
    FLOAT(1, 4),
    UINT8(2, 1),
    INT8(3, 1),
    UINT16(4, 2),
    INT16(5, 2),
    INT32(6, 4),
    INT64(7, 8),
    STRING(8, 0),
    BOOL(9, 1),
    FLOAT16(10, 2),
    DOUBLE(11, 8),
    UINT32(12, 4),
    UINT64(13, 8),
    COMPLEX64(14, 8),
    COMPLEX128(15, 16),
    BFLOAT16(16, 2);

    private final int code;
    private final int byteSize;

    OnnxDataType(int code, int byteSize) {
        this.code = code;
        this.byteSize = byteSize;
    }

    /** The {@code data_type} code in the file. */
    public int code() {
        return code;
    }

    /** Bytes per element in {@code raw_data}; 0 for strings, which have no raw form. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether {@link OnnxTensor#toFloatArray()} can read this type. */
    public boolean isFloatingPoint() {
        return this == FLOAT || this == FLOAT16 || this == BFLOAT16 || this == DOUBLE;
    }

    /** Whether {@link OnnxTensor#toLongArray()} can read this type. */
    public boolean isInteger() {
        return this == UINT8 || this == INT8 || this == UINT16 || this == INT16 || this == INT32 || this == INT64 || this == BOOL || this == UINT32;
    }

    /**
     * The type with {@code code}.
     *
     * @throws IllegalArgumentException for a code this reader does not know (0, the float8 and 4-bit types)
     */
    public static OnnxDataType fromCode(int code) {
        for (OnnxDataType type : values()) {
            if (type.code == code) {
                return type;
            }
        }
        throw new IllegalArgumentException(format("unsupported ONNX data_type %d (known: 1 to 16, FLOAT to BFLOAT16)", code));
    }
}
