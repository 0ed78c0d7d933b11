package dev.graft.spi;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Multiplying or dividing by a constant in a forward pass that is trained. Use these instead of DJL's
 * {@code NDArray.mul(Number)} and {@code div(Number)} wherever gradients flow.
 *
 * <p>Why: DJL's PyTorch engine makes a {@code Number} operand into a 0-dimensional array over a Java direct buffer
 * (no copy) and closes it as soon as the operation returns. Autograd keeps that operand for the backward pass, but
 * nothing keeps the Java buffer: once the garbage collector frees it, the backward pass reads freed memory and the
 * gradients turn into garbage, NaN or infinity, at a step that depends on the heap. The constants made here come
 * from PyTorch's own allocator ({@code full}), which autograd keeps alive for as long as it needs them.
 */
public final class Scalars {
    private Scalars() {}

    /** {@code array · factor}, the constant in {@code array}'s data type and manager. */
    public static NDArray times(NDArray array, float factor) {
        requireNonNull(array, "array is null");
        return array.mul(array.getManager().full(new Shape(), factor, array.getDataType()));
    }

    /** {@code array / divisor}, the constant in {@code array}'s data type and manager. */
    public static NDArray dividedBy(NDArray array, float divisor) {
        requireNonNull(array, "array is null");
        return array.div(array.getManager().full(new Shape(), divisor, array.getDataType()));
    }
}
