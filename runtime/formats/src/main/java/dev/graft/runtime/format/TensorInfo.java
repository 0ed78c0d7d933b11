package dev.graft.runtime.format;

import ai.djl.ndarray.types.Shape;

import java.util.List;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name the tensor name
 * @param dtype the element type
 * @param shape the dimensions, row-major; empty for a scalar
 * @param dataBegin the first byte of the tensor, relative to the start of the data buffer
 * @param dataEnd one past the last byte of the tensor, relative to the start of the data buffer
 */
public record TensorInfo(String name, Dtype dtype, List<Long> shape, long dataBegin, long dataEnd) {
    public TensorInfo {
        requireNonNull(name, "name is null");
        requireNonNull(dtype, "dtype is null");
        shape = List.copyOf(requireNonNull(shape, "shape is null"));
        for (long dimension : shape) {
            if (dimension < 0) {
                throw new IllegalArgumentException(format("tensor '%s' has a negative dimension in shape %s", name, shape));
            }
        }
        if (dataBegin < 0 || dataEnd < dataBegin) {
            throw new IllegalArgumentException(format("tensor '%s' has invalid data offsets [%d, %d]", name, dataBegin, dataEnd));
        }
    }

    /** The number of elements: the product of the dimensions, 1 for a scalar. */
    public long elementCount() {
        return elementCount(shape);
    }

    /** The number of bytes the tensor occupies in the data buffer. */
    public long byteSize() {
        return dataEnd - dataBegin;
    }

    /** The shape as a DJL {@link Shape}. */
    public Shape toShape() {
        return new Shape(shape.stream().mapToLong(Long::longValue).toArray());
    }

    /** The product of {@code shape}; throws {@link ArithmeticException} on overflow. */
    static long elementCount(List<Long> shape) {
        long count = 1;
        for (long dimension : shape) {
            count = Math.multiplyExact(count, dimension);
        }
        return count;
    }
}
