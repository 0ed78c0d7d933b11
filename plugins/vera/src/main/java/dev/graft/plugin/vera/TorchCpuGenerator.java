package dev.graft.plugin.vera;

/**
 * PyTorch's CPU random generator ({@code torch.Generator(device="cpu")}) reproduced in Java, for what VeRA needs:
 * {@code manual_seed(seed)} and {@code Tensor.uniform_(from, to, generator=...)} on a float32 tensor. Each instance
 * is its own generator, so drawing from it touches neither torch's nor DJL's global random state.
 *
 * <p>As in ATen ({@code core/MT19937RNGEngine.h}, {@code CPUGeneratorImpl.cpp}): the engine is the 32-bit Mersenne
 * Twister mt19937, and seeding it keeps the low 32 bits of the seed as the first state word and fills the others with
 * {@code state[j] = 1812433253 · (state[j-1] ^ (state[j-1] >>> 30)) + j}. {@code uniform_} on a float tensor
 * ({@code native/cpu/DistributionTemplates.h uniform_kernel}, {@code core/TransformationHelper.h uniform_real}) casts
 * {@code from} and {@code to} to float, then for each element, in memory order, takes one 32-bit draw, keeps its low
 * 24 bits (float's significand), scales them by {@code 2^-24} into {@code [0, 1)} and returns
 * {@code x · (to - from) + from} in float. libtorch's x86-64 build compiles that expression to one fused multiply-add
 * (one rounding), which {@link Math#fma(float, float, float)} reproduces; a separate multiply and add differs in the
 * last bit for about half the values (checked against projections PEFT made with torch 1.13.1, see the tests).
 */
final class TorchCpuGenerator {
    private static final int STATE_SIZE = 624;
    private static final int SHIFT_SIZE = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;
    private static final int FLOAT_DIGITS_MASK = (1 << 24) - 1;
    private static final float FLOAT_DIVISOR = 1.0f / (1 << 24);

    private final int[] state = new int[STATE_SIZE];
    private int next;

    /** A generator as {@code torch.Generator(device="cpu").manual_seed(seed)} leaves it. */
    TorchCpuGenerator(long seed) {
        state[0] = (int) seed;
        for (int index = 1; index < STATE_SIZE; index++) {
            int previous = state[index - 1];
            state[index] = 1812433253 * (previous ^ (previous >>> 30)) + index;
        }
        next = STATE_SIZE;
    }

    /** The next 32-bit draw, as ATen's {@code CPUGeneratorImpl::random()}; read it unsigned. */
    int nextInt() {
        if (next >= STATE_SIZE) {
            twist();
        }
        int value = state[next++];
        value ^= value >>> 11;
        value ^= (value << 7) & 0x9d2c5680;
        value ^= (value << 15) & 0xefc60000;
        value ^= value >>> 18;
        return value;
    }

    /**
     * Fills {@code values} as {@code tensor.uniform_(from, to, generator=this)} fills a contiguous float32 tensor of
     * that many elements.
     */
    void uniform(float[] values, double from, double to) {
        float low = (float) from;
        float range = (float) to - low;
        for (int index = 0; index < values.length; index++) {
            float unit = (nextInt() & FLOAT_DIGITS_MASK) * FLOAT_DIVISOR;
            values[index] = Math.fma(unit, range, low);
        }
    }

    private void twist() {
        for (int index = 0; index < STATE_SIZE; index++) {
            int mixed = (state[index] & UPPER_MASK) | (state[(index + 1) % STATE_SIZE] & LOWER_MASK);
            state[index] = state[(index + SHIFT_SIZE) % STATE_SIZE] ^ (mixed >>> 1) ^ ((mixed & 1) != 0 ? MATRIX_A : 0);
        }
        next = 0;
    }
}
