package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import java.util.Optional;

/**
 * Which tokens of the forward pass this thread runs are real: the model enters it once per forward pass, so that
 * gates average over real tokens only and a row's gate value does not depend on the padding its batch happens to
 * have (or on the prompt region a routed batch pads). Holds two masks {@code (batch, tokens)}, float32 1 for real and
 * 0 for padding: over the input tokens, and over the virtual prompt positions followed by the input tokens (equal
 * when there is no prompt); {@link #of} picks the one whose width matches an activation.
 *
 * <p>Not thread-safe: a mask belongs to the thread that entered it, and is left by {@link #close()}.
 */
public final class TokenMask implements AutoCloseable {
    private static final ThreadLocal<TokenMask> CURRENT = new ThreadLocal<>();

    private final NDArray inputMask;
    private final NDArray promptedMask;
    private final TokenMask outer;

    private TokenMask(NDArray inputMask, NDArray promptedMask, TokenMask outer) {
        this.inputMask = inputMask;
        this.promptedMask = promptedMask;
        this.outer = outer;
    }

    /**
     * Marks the real tokens of the forward pass this thread runs until the returned mask is closed.
     *
     * @param inputMask {@code (batch, sequence)}, 1 for a real input token and 0 for padding
     * @param promptedMask {@code (batch, prompt + sequence)}, the same after the prompt positions (1 where a row has a
     *     virtual token, 0 on routed padding); {@code inputMask} itself when there is no prompt
     */
    public static TokenMask enter(NDArray inputMask, NDArray promptedMask) {
        requireNonNull(inputMask, "inputMask is null");
        requireNonNull(promptedMask, "promptedMask is null");
        TokenMask mask = new TokenMask(inputMask.toType(DataType.FLOAT32, false), promptedMask.toType(DataType.FLOAT32, false), CURRENT.get());
        CURRENT.set(mask);
        return mask;
    }

    /**
     * The mask {@code (batch, tokens)} matching an activation {@code (batch, tokens, ...)} of this thread's forward
     * pass; empty outside a forward pass or when no mask has that shape.
     */
    public static Optional<NDArray> of(NDArray activation) {
        TokenMask current = CURRENT.get();
        if (current == null || activation.getShape().dimension() < 3) {
            return Optional.empty();
        }
        long batch = activation.getShape().get(0);
        long tokens = activation.getShape().get(1);
        for (NDArray mask : new NDArray[] {current.promptedMask, current.inputMask}) {
            if (mask.getShape().get(0) == batch && mask.getShape().get(1) == tokens) {
                return Optional.of(mask);
            }
        }
        return Optional.empty();
    }

    /** Leaves the mask, restoring the one entered before it on this thread, if any. */
    @Override
    public void close() {
        if (outer == null) {
            CURRENT.remove();
        }
        else {
            CURRENT.set(outer);
        }
    }
}
