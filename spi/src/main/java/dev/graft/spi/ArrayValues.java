package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

/**
 * Overwriting an array's values in place (loading a checkpoint, merging, resetting a factor) without replacing the
 * array, so parameters, optimizer state and gradients keep pointing at it. Use this instead of
 * {@code target.set(source.toByteBuffer())}: DJL's {@code set(Buffer)} makes the array's storage alias a Java buffer
 * and runs under a guard that libtorch reports as "AutoNonVariableTypeMode is deprecated ... silent wrong result";
 * this copy stays inside PyTorch ({@code target[...] = source}).
 */
public final class ArrayValues {
    private ArrayValues() {}

    /**
     * Copies {@code source}'s values into {@code target}, converted to {@code target}'s data type.
     *
     * @throws IllegalArgumentException when the shapes differ
     */
    public static void copy(NDArray target, NDArray source) {
        requireNonNull(target, "target is null");
        requireNonNull(source, "source is null");
        if (!target.getShape().equals(source.getShape())) {
            throw new IllegalArgumentException(format("cannot copy an array of shape %s into one of shape %s", source.getShape(), target.getShape()));
        }
        if (source.getDataType() == target.getDataType()) {
            target.set(new NDIndex("..."), source);
            return;
        }
        try (NDArray converted = source.toType(target.getDataType(), true)) {
            target.set(new NDIndex("..."), converted);
        }
    }
}
