package dev.graft.runtime.onnx;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * One tensor of an ONNX file (a graph initializer or a node attribute): its name, shape and type, and its values
 * either as {@code raw_data} (little-endian, as the ONNX spec stores it) or as one of the typed repeated fields.
 * The data's length was checked against the shape when the file was read.
 */
public final class OnnxTensor {
    private final String name;
    private final List<Long> dims;
    private final OnnxDataType dataType;
    private final long elementCount;
    private final ByteBuffer rawData;
    private final float[] floatData;
    private final double[] doubleData;
    private final long[] integerData;

    OnnxTensor(String name, List<Long> dims, OnnxDataType dataType, ByteBuffer rawData, float[] floatData, double[] doubleData, long[] integerData) {
        this.name = requireNonNull(name, "name is null");
        this.dims = List.copyOf(dims);
        this.dataType = requireNonNull(dataType, "dataType is null");
        this.elementCount = elementCount(name, dims);
        this.rawData = rawData;
        this.floatData = floatData;
        this.doubleData = doubleData;
        this.integerData = integerData;
        checkLength();
    }

    /** The product of {@code dims}; the product of the non-zero ones must fit too, or an empty tensor's strides overflow. */
    private static long elementCount(String name, List<Long> dims) {
        long count = 1;
        long nonZero = 1;
        for (long dim : dims) {
            if (dim < 0) {
                throw new OnnxFormatException(format("tensor '%s' has a negative dimension in %s", name, dims));
            }
            try {
                count = Math.multiplyExact(count, dim);
                nonZero = Math.multiplyExact(nonZero, Math.max(dim, 1));
            }
            catch (ArithmeticException e) {
                throw new OnnxFormatException(format("tensor '%s' has dims %s whose product overflows", name, dims), e);
            }
        }
        return count;
    }

    private void checkLength() {
        long found;
        String field;
        long expected = elementCount;
        if (rawData != null) {
            found = rawData.remaining();
            field = "raw_data bytes";
            try {
                expected = Math.multiplyExact(elementCount, (long) dataType.byteSize());
            }
            catch (ArithmeticException e) {
                throw new OnnxFormatException(format("tensor '%s' (%s, dims %s) would need more than %d bytes of raw_data; the dims are wrong", name, dataType, dims,
                        Long.MAX_VALUE), e);
            }
        }
        else if (floatData != null) {
            found = floatData.length;
            field = "float_data values";
        }
        else if (doubleData != null) {
            found = doubleData.length;
            field = "double_data values";
        }
        else if (integerData != null) {
            found = integerData.length;
            field = "integer data values";
        }
        else {
            found = 0;
            field = "values";
        }
        if (dataType == OnnxDataType.COMPLEX64 || dataType == OnnxDataType.COMPLEX128) {
            if (rawData == null) {
                expected *= 2;
            }
        }
        if (!holds(field)) {
            throw new OnnxFormatException(format("tensor '%s' (%s, dims %s) keeps its values in %s, which ONNX does not use for %s; "
                    + "the file is corrupt or written by a broken exporter", name, dataType, dims, field.replace(" values", ""), dataType));
        }
        if (dataType != OnnxDataType.STRING && found != expected) {
            throw new OnnxFormatException(format("tensor '%s' (%s, dims %s) has %d %s, expected %d", name, dataType, dims, found, field, expected));
        }
    }

    /**
     * Whether the typed field named {@code field} may hold this tensor's type (ONNX's {@code TensorProto}: float_data for
     * FLOAT and COMPLEX64, double_data for DOUBLE and COMPLEX128, the integer fields for the integer types, BOOL and the
     * 16-bit floats). A mismatch once reached the converters, which read the absent field (a fuzzing crasher).
     */
    private boolean holds(String field) {
        switch (field) {
            case "float_data values":
                return dataType == OnnxDataType.FLOAT || dataType == OnnxDataType.COMPLEX64;
            case "double_data values":
                return dataType == OnnxDataType.DOUBLE || dataType == OnnxDataType.COMPLEX128;
            case "integer data values":
                return dataType.isInteger() || dataType == OnnxDataType.UINT64 || dataType == OnnxDataType.FLOAT16 || dataType == OnnxDataType.BFLOAT16;
            default:
                return true;
        }
    }

    public String name() {
        return name;
    }

    /** The dimensions, outermost first; empty for a scalar. */
    public List<Long> dims() {
        return dims;
    }

    public OnnxDataType dataType() {
        return dataType;
    }

    public long elementCount() {
        return elementCount;
    }

    /** The shape as a DJL {@link Shape}. */
    public Shape shape() {
        long[] shape = new long[dims.size()];
        for (int index = 0; index < shape.length; index++) {
            shape[index] = dims.get(index);
        }
        return new Shape(shape);
    }

    /**
     * The values as float32, row-major: FLOAT as is, FLOAT16 and BFLOAT16 exactly, DOUBLE rounded.
     *
     * @throws OnnxFormatException for another type
     */
    public float[] toFloatArray() {
        if (!dataType.isFloatingPoint()) {
            throw new OnnxFormatException(format("tensor '%s' holds %s, not floating-point values", name, dataType));
        }
        float[] values = new float[Math.toIntExact(elementCount)];
        for (int index = 0; index < values.length; index++) {
            values[index] = floatAt(index);
        }
        return values;
    }

    private float floatAt(int index) {
        switch (dataType) {
            case FLOAT:
                return rawData != null ? rawData.getFloat(index * 4) : floatData[index];
            case DOUBLE:
                return (float) (rawData != null ? rawData.getDouble(index * 8) : doubleData[index]);
            case FLOAT16:
                return halfToFloat(halfBits(index));
            case BFLOAT16:
                return Float.intBitsToFloat((halfBits(index) & 0xffff) << 16);
            default:
                throw new IllegalStateException(format("not a floating-point type: %s", dataType));
        }
    }

    /** IEEE 754 binary16 to float32, exactly (Java 17 has no {@code Float.float16ToFloat}). */
    static float halfToFloat(short bits) {
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }

    private short halfBits(int index) {
        return rawData != null ? rawData.getShort(index * 2) : (short) integerData[index];
    }

    /**
     * The values as int64, row-major, for the integer types and BOOL (0 or 1); UINT64 is refused (it may not fit).
     *
     * @throws OnnxFormatException for another type
     */
    public long[] toLongArray() {
        if (!dataType.isInteger()) {
            throw new OnnxFormatException(format("tensor '%s' holds %s, not integer values", name, dataType));
        }
        long[] values = new long[Math.toIntExact(elementCount)];
        for (int index = 0; index < values.length; index++) {
            values[index] = rawData == null ? integerData[index] : rawInteger(index);
        }
        return values;
    }

    private long rawInteger(int index) {
        switch (dataType) {
            case UINT8:
            case BOOL:
                return rawData.get(index) & 0xffL;
            case INT8:
                return rawData.get(index);
            case UINT16:
                return rawData.getShort(index * 2) & 0xffffL;
            case INT16:
                return rawData.getShort(index * 2);
            case INT32:
                return rawData.getInt(index * 4);
            case UINT32:
                return rawData.getInt(index * 4) & 0xffffffffL;
            case INT64:
                return rawData.getLong(index * 8);
            default:
                throw new IllegalStateException(format("not an integer type: %s", dataType));
        }
    }

    /**
     * The tensor as a DJL array of {@code manager}: floating-point types as FLOAT32, integer types as INT64.
     *
     * @throws OnnxFormatException for another type
     */
    public NDArray toNDArray(NDManager manager) {
        NDArray array;
        if (dataType == OnnxDataType.FLOAT && rawData != null) {
            ByteBuffer direct = ByteBuffer.allocateDirect(rawData.remaining()).order(ByteOrder.nativeOrder());
            direct.asFloatBuffer().put(rawData.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
            array = manager.create(direct, shape(), DataType.FLOAT32);
        }
        else if (dataType.isFloatingPoint()) {
            array = manager.create(toFloatArray(), shape());
        }
        else {
            array = manager.create(toLongArray(), shape());
        }
        array.setName(name);
        return array;
    }

    @Override
    public String toString() {
        return format("%s %s %s", name, dataType, dims);
    }
}
