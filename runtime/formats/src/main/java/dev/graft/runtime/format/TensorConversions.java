package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;

import static java.lang.String.format;

/**
 * Moves tensor bytes between safetensors data buffers and DJL arrays.
 *
 * <p>DJL 0.36.0's PyTorch engine aborts the whole JVM (a native {@code std::terminate}, not an exception)
 * when it is asked to create or convert to bfloat16, int16, uint16, uint32 or uint64 arrays. These types
 * are therefore never handed to the engine: bfloat16 is widened to float32 (exactly: a bfloat16 is the
 * upper half of a float32), int16 and uint16 to int32 and uint32 to int64, all in Java. Asked for float16,
 * bfloat16, float32 and float64 tensors are rounded to it in Java too ({@link #toFloat16}), without a float32
 * copy in between.
 */
final class TensorConversions {
    /** The DJL data types the PyTorch engine can hold and convert between. */
    private static final Set<DataType> ENGINE_TYPES = Set.copyOf(EnumSet.of(
            DataType.FLOAT32, DataType.FLOAT64, DataType.FLOAT16, DataType.INT64, DataType.INT32, DataType.INT8, DataType.UINT8, DataType.BOOLEAN));

    private TensorConversions() {}

    /** Whether the engine can hold arrays of {@code dataType}. */
    static boolean engineCanHold(DataType dataType) {
        return ENGINE_TYPES.contains(dataType);
    }

    /** The engine types, for error messages. */
    static Set<DataType> engineTypes() {
        return ENGINE_TYPES;
    }

    /**
     * The DJL type a tensor of {@code dtype} loads as when no target type is asked for, or null when it
     * cannot be loaded losslessly (U64, the 8-bit floats).
     */
    static DataType loadedType(Dtype dtype) {
        return switch (dtype) {
            case BOOL -> DataType.BOOLEAN;
            case U8 -> DataType.UINT8;
            case I8 -> DataType.INT8;
            case I16, U16, I32 -> DataType.INT32;
            case F16 -> DataType.FLOAT16;
            case BF16, F32 -> DataType.FLOAT32;
            case U32, I64 -> DataType.INT64;
            case F64 -> DataType.FLOAT64;
            case F8_E5M2, F8_E4M3, U64 -> null;
        };
    }

    /**
     * Creates an array from the little-endian bytes {@code data} of {@code info}, converted to
     * {@code target}, or to {@link #loadedType} when {@code target} is null. The bytes are copied: the
     * array never aliases {@code data}, which may be a read-only file mapping.
     *
     * @param source names the tensor and its file in error messages
     */
    static NDArray toArray(String source, TensorInfo info, ByteBuffer data, NDManager manager, DataType target) {
        DataType loaded = loadedType(info.dtype());
        if (loaded == null) {
            throw new SafetensorsException(format("Cannot load %s: dtype %s has no lossless DJL counterpart; convert the checkpoint to F32, F16 or BF16",
                    source, info.dtype()));
        }
        if (target != null && !engineCanHold(target)) {
            throw new SafetensorsException(format("Cannot load %s as %s: DJL's PyTorch engine cannot hold %s arrays (it aborts the JVM); choose one of %s",
                    source, target, target, ENGINE_TYPES));
        }
        if (target == DataType.FLOAT16 && (info.dtype() == Dtype.BF16 || info.dtype() == Dtype.F32 || info.dtype() == Dtype.F64)) {
            NDArray array = manager.create(toFloat16(source, info, data), info.toShape(), DataType.FLOAT16);
            array.setName(info.name());
            return array;
        }
        long engineBytes = Math.multiplyExact(info.elementCount(), (long) loaded.getNumOfBytes());
        if (engineBytes > Integer.MAX_VALUE) {
            throw new SafetensorsException(format("Cannot load %s: as %s it takes %d bytes, over the 2 GiB a DJL array can be created from", source, loaded, engineBytes));
        }
        NDArray array = manager.create(toEngineLayout(info.dtype(), data), info.toShape(), loaded);
        if (target == null || target == loaded) {
            array.setName(info.name());
            return array;
        }
        try {
            NDArray converted = array.toType(target, false);
            converted.setName(info.name());
            return converted;
        }
        finally {
            array.close();
        }
    }

    /** A fresh direct buffer holding {@code data} in the layout of {@link #loadedType}. */
    private static ByteBuffer toEngineLayout(Dtype dtype, ByteBuffer data) {
        ByteBuffer source = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int count = source.remaining() / dtype.byteSize();
        switch (dtype) {
            case BF16: {
                ByteBuffer target = allocate(count * Float.BYTES);
                for (int index = 0; index < count; index++) {
                    target.putInt(index * Float.BYTES, (source.getShort(source.position() + index * Short.BYTES) & 0xFFFF) << 16);
                }
                return target;
            }
            case I16: {
                ByteBuffer target = allocate(count * Integer.BYTES);
                for (int index = 0; index < count; index++) {
                    target.putInt(index * Integer.BYTES, source.getShort(source.position() + index * Short.BYTES));
                }
                return target;
            }
            case U16: {
                ByteBuffer target = allocate(count * Integer.BYTES);
                for (int index = 0; index < count; index++) {
                    target.putInt(index * Integer.BYTES, source.getShort(source.position() + index * Short.BYTES) & 0xFFFF);
                }
                return target;
            }
            case U32: {
                ByteBuffer target = allocate(count * Long.BYTES);
                for (int index = 0; index < count; index++) {
                    target.putLong(index * Long.BYTES, source.getInt(source.position() + index * Integer.BYTES) & 0xFFFF_FFFFL);
                }
                return target;
            }
            default: {
                ByteBuffer target = allocate(source.remaining());
                target.put(source);
                target.flip();
                return target;
            }
        }
    }

    /**
     * A fresh direct buffer holding the BF16, F32 or F64 {@code data} rounded to float16 by {@link HalfFloats}'s
     * rules, read straight from {@code data} (a file mapping, say) with no wider copy in between.
     *
     * @throws SafetensorsException naming the tensor, the element and its value if a finite value is beyond
     *         float16's range (±65504): it would become infinite, and is refused rather than clamped, because a
     *         clamped weight is a silently different model
     */
    static ByteBuffer toFloat16(String source, TensorInfo info, ByteBuffer data) {
        ByteBuffer input = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int start = input.position();
        long count = info.elementCount();
        if (count * Short.BYTES > Integer.MAX_VALUE) {
            throw new SafetensorsException(format("Cannot load %s: as FLOAT16 it takes %d bytes, over the 2 GiB a DJL array can be created from", source, count * Short.BYTES));
        }
        ByteBuffer target = allocate((int) count * Short.BYTES);
        int elements = (int) count;
        switch (info.dtype()) {
            case BF16:
            case F32: {
                boolean bfloat = info.dtype() == Dtype.BF16;
                for (int index = 0; index < elements; index++) {
                    // a bfloat16 is the upper half of a float32
                    int bits = bfloat ? (input.getShort(start + index * Short.BYTES) & 0xFFFF) << 16 : input.getInt(start + index * Float.BYTES);
                    if (HalfFloats.overflows(bits)) {
                        throw float16Overflow(source, info, index, Float.intBitsToFloat(bits));
                    }
                    target.putShort(index * Short.BYTES, HalfFloats.fromFloat32(bits));
                }
                return target;
            }
            case F64:
                for (int index = 0; index < elements; index++) {
                    long bits = input.getLong(start + index * Double.BYTES);
                    if (HalfFloats.overflows(bits)) {
                        throw float16Overflow(source, info, index, Double.longBitsToDouble(bits));
                    }
                    target.putShort(index * Short.BYTES, HalfFloats.fromFloat64(bits));
                }
                return target;
            default:
                throw new IllegalArgumentException(format("%s: dtype %s is not rounded to float16 in Java", source, info.dtype()));
        }
    }

    private static SafetensorsException float16Overflow(String source, TensorInfo info, int index, double value) {
        return new SafetensorsException(format(
                "Cannot load %s as FLOAT16: element %d of shape %s is %s (%s), beyond float16's largest finite value ±65504; load it as float32 instead",
                source, index, info.shape(), value, info.dtype()));
    }

    /**
     * Rounds little-endian float32 values to bfloat16, to nearest with ties to even as PyTorch does;
     * NaN stays NaN (quiet).
     */
    static ByteBuffer float32ToBfloat16(ByteBuffer float32) {
        ByteBuffer source = float32.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int count = source.remaining() / Float.BYTES;
        ByteBuffer target = ByteBuffer.allocate(count * Short.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int index = 0; index < count; index++) {
            target.putShort(index * Short.BYTES, float32ToBfloat16(source.getInt(source.position() + index * Float.BYTES)));
        }
        return target;
    }

    /** Rounds the float32 with bits {@code bits} to the bits of a bfloat16. */
    static short float32ToBfloat16(int bits) {
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    private static ByteBuffer allocate(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
