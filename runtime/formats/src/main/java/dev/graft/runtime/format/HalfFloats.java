package dev.graft.runtime.format;

/**
 * Bit-exact rounding of bfloat16, float32 and float64 values to IEEE 754 binary16 (float16), in Java, because DJL
 * 0.36's PyTorch engine cannot hold bfloat16 arrays to convert them itself.
 *
 * <p>The rules, which are those of IEEE 754 (and of PyTorch's {@code tensor.to(torch.float16)}, except for
 * overflow):
 * <ul>
 *   <li>Rounding is to nearest, ties to even, once: a float64 is not rounded to float32 first (that could round
 *       twice) but narrowed with round-to-odd, which keeps the final rounding exact.</li>
 *   <li>Every bfloat16 of magnitude in {@code [2⁻¹⁴, 65280]} (float16's normal range) is exact in float16: a
 *       bfloat16 has 8 significant bits, a float16 11.</li>
 *   <li>Below {@code 2⁻¹⁴} the result is a float16 subnormal, a multiple of {@code 2⁻²⁴}: bits are lost, and
 *       magnitudes up to {@code 2⁻²⁵} (the tie goes to the even zero) become a zero of the same sign.</li>
 *   <li>Finite magnitudes of {@code 65520} or more, which would round to infinity, {@linkplain #overflows overflow};
 *       callers refuse them rather than clamp them. Those in {@code (65504, 65520)} round to ±65504.</li>
 *   <li>Infinities stay infinite; NaN stays NaN (quiet, with its sign and the top bits of its payload).</li>
 * </ul>
 */
final class HalfFloats {
    /** The float32 bits of 65520: finite magnitudes from here up round to infinity in float16. */
    private static final int FLOAT32_OVERFLOW = 0x477F_F000;
    /** The float32 bits of 2⁻¹⁴, float16's smallest normal magnitude. */
    private static final int FLOAT32_MIN_NORMAL = 0x3880_0000;
    /** The float32 bits of 2⁻²⁵: magnitudes up to here round to zero in float16. */
    private static final int FLOAT32_HALF_MIN_SUBNORMAL = 0x3300_0000;
    /** Float32's exponent bias minus float16's, {@code 127 − 15}, in the float32 exponent field. */
    private static final int EXPONENT_REBIAS = (127 - 15) << 23;
    private static final int FLOAT32_INFINITY = 0x7F80_0000;

    private HalfFloats() {}

    /** Whether the float32 with bits {@code bits} is finite but too large for float16 (it would round to infinity). */
    static boolean overflows(int bits) {
        int magnitude = bits & 0x7FFF_FFFF;
        return magnitude >= FLOAT32_OVERFLOW && magnitude < FLOAT32_INFINITY;
    }

    /** Whether the float64 with bits {@code bits} is finite but too large for float16. */
    static boolean overflows(long bits) {
        double magnitude = Math.abs(Double.longBitsToDouble(bits));
        return magnitude >= 65520.0 && magnitude < Double.POSITIVE_INFINITY;
    }

    /**
     * The float16 bits of the float32 with bits {@code bits} (a bfloat16 is the upper half of such bits); an
     * {@linkplain #overflows overflowing} value gives infinity.
     */
    static short fromFloat32(int bits) {
        int sign = (bits >>> 16) & 0x8000;
        int magnitude = bits & 0x7FFF_FFFF;
        if (magnitude >= FLOAT32_INFINITY) {
            if (magnitude == FLOAT32_INFINITY) {
                return (short) (sign | 0x7C00);
            }
            return (short) (sign | 0x7E00 | ((magnitude >>> 13) & 0x3FF));
        }
        if (magnitude >= FLOAT32_OVERFLOW) {
            return (short) (sign | 0x7C00);
        }
        if (magnitude >= FLOAT32_MIN_NORMAL) {
            // drop 13 of the 23 mantissa bits, to nearest, ties to even; a carry into the exponent is the right result
            int rounded = magnitude + 0x0FFF + ((magnitude >>> 13) & 1);
            return (short) (sign | ((rounded - EXPONENT_REBIAS) >>> 13));
        }
        if (magnitude <= FLOAT32_HALF_MIN_SUBNORMAL) {
            return (short) sign;
        }
        // a subnormal result: the value in units of 2^-24 is significand · 2^(exponent − 126), exponent in [102, 112]
        int exponent = magnitude >>> 23;
        int significand = (magnitude & 0x7F_FFFF) | 0x80_0000;
        int shift = 126 - exponent;
        int units = significand >>> shift;
        int remainder = significand & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (units & 1) == 1)) {
            units++;
        }
        return (short) (sign | units);
    }

    /** The float16 bits of the float64 with bits {@code bits}; an {@linkplain #overflows overflowing} value gives infinity. */
    static short fromFloat64(long bits) {
        double value = Double.longBitsToDouble(bits);
        if (Double.isNaN(value)) {
            return (short) (((bits >>> 48) & 0x8000) | 0x7E00 | ((bits >>> 42) & 0x3FF));
        }
        if (overflows(bits)) {
            return (short) ((bits < 0 ? 0x8000 : 0) | 0x7C00);
        }
        return fromFloat32(toFloat32RoundToOdd(value));
    }

    /**
     * The float32 bits of {@code value} rounded to odd: truncated toward zero, with the last bit set when that was
     * inexact. Float32 keeps 13 bits more than float16, so rounding this to float16 equals rounding {@code value}
     * directly.
     */
    private static int toFloat32RoundToOdd(double value) {
        float nearest = (float) value;
        if ((double) nearest == value || Float.isInfinite(nearest)) {
            return Float.floatToRawIntBits(nearest);
        }
        float truncated = Math.abs((double) nearest) > Math.abs(value) ? Math.nextAfter(nearest, 0.0) : nearest;
        return Float.floatToRawIntBits(truncated) | 1;
    }

    /** The float32 value of the float16 with bits {@code bits} (exact). */
    static float toFloat32(short bits) {
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | FLOAT32_INFINITY | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
    }
}
