package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Data-type conversions that autograd sees through.
 *
 * <p>DJL 0.36's PyTorch engine runs {@code NDArray.toType} under PyTorch's {@code NoGradGuard}: its result has no
 * gradient path back to its input. On a float16 base every float32 ↔ float16 conversion on the way from the loss to
 * an adapter (a norm computed in float32, an adapter's contribution added to a float16 output) would then cut the
 * adapter off from training. {@link #toType} converts by adding the array in place onto zeros of the target type,
 * which PyTorch records as an addition whose backward casts the gradient back to the input's type. The values are
 * those of a plain conversion: {@code 0 + x} is exact, and is rounded once to the target type.
 */
public final class Casts {
    private Casts() {}

    /** {@code array} in {@code type}: {@code array} itself when it already is, else a new array on its manager, differentiable. */
    public static NDArray toType(NDArray array, DataType type) {
        requireNonNull(array, "array is null");
        requireNonNull(type, "type is null");
        if (array.getDataType() == type) {
            return array;
        }
        NDArray converted = array.getManager().zeros(array.getShape(), type, array.getDevice());
        converted.addi(array);
        return converted;
    }
}
