package dev.graft.runtime.format;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rounding to float16, bit for bit against values worked out by hand. */
final class TestHalfFloats {
    @Test
    void testBfloat16InFloat16sNormalRangeIsExact() {
        assertThat(fromBfloat16(0x3F80)).as("1").isEqualTo((short) 0x3C00);
        assertThat(fromBfloat16(0xC000)).as("-2").isEqualTo((short) 0xC000);
        assertThat(fromBfloat16(0x3DCD)).as("0.10009765625").isEqualTo((short) 0x2E68);
        assertThat(fromBfloat16(0x477F)).as("65280, the largest bfloat16 below float16's limit").isEqualTo((short) 0x7BF8);
        assertThat(fromBfloat16(0x3880)).as("2^-14, float16's smallest normal").isEqualTo((short) 0x0400);
        assertThat(fromBfloat16(0x0000)).as("+0").isEqualTo((short) 0x0000);
        assertThat(fromBfloat16(0x8000)).as("-0").isEqualTo((short) 0x8000);
        for (int bits = 0x3880; bits <= 0x477F; bits++) {
            float value = Float.intBitsToFloat(bits << 16);
            assertThat(HalfFloats.toFloat32(fromBfloat16(bits))).as("bfloat16 %s", value).isEqualTo(value);
            assertThat(HalfFloats.toFloat32(fromBfloat16(bits | 0x8000))).as("bfloat16 %s", -value).isEqualTo(-value);
        }
    }

    @Test
    void testBfloat16BelowFloat16sNormalRangeBecomesSubnormalOrZero() {
        assertThat(fromBfloat16(0x3580)).as("2^-20 = 16·2^-24, exact").isEqualTo((short) 0x0010);
        assertThat(fromBfloat16(0x3581)).as("16.125·2^-24 loses its last bits").isEqualTo((short) 0x0010);
        assertThat(fromBfloat16(0x33C0)).as("1.5·2^-24, a tie, goes to the even 2").isEqualTo((short) 0x0002);
        assertThat(fromBfloat16(0x3420)).as("2.5·2^-24, a tie, goes to the even 2").isEqualTo((short) 0x0002);
        assertThat(fromBfloat16(0x3300)).as("2^-25, a tie between 0 and 2^-24, goes to the even 0").isEqualTo((short) 0x0000);
        assertThat(fromBfloat16(0xB300)).as("-2^-25 keeps its sign").isEqualTo((short) 0x8000);
        assertThat(fromBfloat16(0x3301)).as("just above 2^-25 rounds up to 2^-24").isEqualTo((short) 0x0001);
        assertThat(fromBfloat16(0x0001)).as("the smallest bfloat16 subnormal").isEqualTo((short) 0x0000);
        assertThat(fromBfloat16(0x387F)).as("the largest bfloat16 below 2^-14 is exactly 1020·2^-24").isEqualTo((short) 0x03FC);
    }

    @Test
    void testFloat32RoundsToNearestWithTiesToEven() {
        assertThat(HalfFloats.fromFloat32(0x3F80_1000)).as("1 + 2^-11, a tie, goes to the even 1").isEqualTo((short) 0x3C00);
        assertThat(HalfFloats.fromFloat32(0x3F80_1001)).as("just above the tie rounds up").isEqualTo((short) 0x3C01);
        assertThat(HalfFloats.fromFloat32(0x3F80_3000)).as("1 + 3·2^-11, a tie, goes to the even 1 + 2^-9").isEqualTo((short) 0x3C02);
        assertThat(HalfFloats.fromFloat32(0x3FFF_F000)).as("2 − 2^-11, a tie, carries into the exponent").isEqualTo((short) 0x4000);
        assertThat(HalfFloats.fromFloat32(0x387F_E000)).as("2^-14 − 2^-25 = 1023.5·2^-24, a tie, becomes the smallest normal").isEqualTo((short) 0x0400);
        assertThat(HalfFloats.fromFloat32(0x387F_DFFF)).as("just below that tie stays subnormal").isEqualTo((short) 0x03FF);
        assertThat(HalfFloats.fromFloat32(Float.floatToIntBits(65504f))).as("65504").isEqualTo((short) 0x7BFF);
        assertThat(HalfFloats.fromFloat32(0x477F_EFFF)).as("just below 65520 rounds down to 65504").isEqualTo((short) 0x7BFF);
        assertThat(HalfFloats.fromFloat32(Float.floatToIntBits(0.1f))).as("0.1").isEqualTo((short) 0x2E66);
    }

    @Test
    void testOverflowInfinityAndNaN() {
        assertThat(HalfFloats.overflows(0x477F_EFFF)).as("65519.996 rounds to 65504").isFalse();
        assertThat(HalfFloats.overflows(0x477F_F000)).as("65520 would round to infinity").isTrue();
        assertThat(HalfFloats.overflows(0x4780_0000 | 0x8000_0000)).as("-65536, bfloat16 0xC780").isTrue();
        assertThat(HalfFloats.overflows(Float.floatToIntBits(Float.MAX_VALUE))).isTrue();
        assertThat(HalfFloats.overflows(Float.floatToIntBits(Float.POSITIVE_INFINITY))).as("infinity is representable").isFalse();
        assertThat(HalfFloats.overflows(Float.floatToIntBits(Float.NaN))).isFalse();
        assertThat(fromBfloat16(0x7F80)).as("+inf").isEqualTo((short) 0x7C00);
        assertThat(fromBfloat16(0xFF80)).as("-inf").isEqualTo((short) 0xFC00);
        assertThat(fromBfloat16(0x7FC0)).as("quiet NaN").isEqualTo((short) 0x7E00);
        assertThat(fromBfloat16(0xFF81)).as("a signalling NaN becomes a quiet one with its sign and payload").isEqualTo((short) 0xFE08);
        assertThat(HalfFloats.overflows(Double.doubleToLongBits(65519.99))).isFalse();
        assertThat(HalfFloats.overflows(Double.doubleToLongBits(-65520.0))).isTrue();
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(Double.NEGATIVE_INFINITY))).isEqualTo((short) 0xFC00);
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(Double.NaN))).isEqualTo((short) 0x7E00);
    }

    @Test
    void testFloat64RoundsOnceNotTwice() {
        double aboveTie = 1 + 0x1p-11 + 0x1p-40;
        assertThat((float) aboveTie).as("through float32 it would become the tie 1 + 2^-11, and then 1").isEqualTo(1 + 0x1p-11f);
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(aboveTie))).as("rounded once, it is above the tie").isEqualTo((short) 0x3C01);
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(1 + 0x1p-11))).as("the exact tie goes to even").isEqualTo((short) 0x3C00);
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(-0x1p-25 - 0x1p-60))).as("just beyond -2^-25").isEqualTo((short) 0x8001);
        assertThat(HalfFloats.fromFloat64(Double.doubleToLongBits(1e-300))).as("far below float32's range").isEqualTo((short) 0x0000);
    }

    @Test
    void testCheckpointTensorsLoadAsFloat16FromTheMapping(@TempDir Path directory) {
        Path file = directory.resolve("half.safetensors");
        new SafetensorsWriter()
                .add("bf16", Dtype.BF16, List.of(2L, 3L), shorts(0x3F80, 0xC000, 0x3DCD, 0x477F, 0x33C0, 0xFF80))
                .add("f32", Dtype.F32, List.of(3L), ints(0x3F80_1000, 0x3FFF_F000, 0x387F_E000))
                .add("f64", Dtype.F64, List.of(1L), longs(Double.doubleToLongBits(1 + 0x1p-11 + 0x1p-40)))
                .add("f16", Dtype.F16, List.of(1L), shorts(0x3555))
                .write(file);
        try (NDManager manager = NDManager.newBaseManager(); SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            assertThat(halfBits(checkpoint.load("bf16", manager, DataType.FLOAT16))).containsExactly(0x3C00, 0xC000, 0x2E68, 0x7BF8, 0x0002, 0xFC00);
            assertThat(halfBits(checkpoint.load("f32", manager, DataType.FLOAT16))).containsExactly(0x3C00, 0x4000, 0x0400);
            assertThat(halfBits(checkpoint.load("f64", manager, DataType.FLOAT16))).containsExactly(0x3C01);
            assertThat(halfBits(checkpoint.load("f16", manager, DataType.FLOAT16))).containsExactly(0x3555);
            assertThat(checkpoint.load("bf16", manager, DataType.FLOAT16).getShape().getShape()).containsExactly(2, 3);
        }
    }

    @Test
    void testValuesBeyondFloat16AreRefusedNamingTheTensorAndElement(@TempDir Path directory) {
        Path file = directory.resolve("large.safetensors");
        new SafetensorsWriter()
                .add("model.layers.0.mlp.down_proj.weight", Dtype.BF16, List.of(2L, 2L), shorts(0x3F80, 0x3F80, 0x3F80, 0xC780))
                .add("scale", Dtype.F32, List.of(2L), ints(0x3F80_0000, Float.floatToIntBits(70000f)))
                .write(file);
        try (NDManager manager = NDManager.newBaseManager(); SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            assertThatThrownBy(() -> checkpoint.load("model.layers.0.mlp.down_proj.weight", manager, DataType.FLOAT16))
                    .isInstanceOf(SafetensorsException.class)
                    .hasMessage("Cannot load tensor 'model.layers.0.mlp.down_proj.weight' of %s as FLOAT16: element 3 of shape [2, 2] is -65536.0 (BF16), "
                            + "beyond float16's largest finite value ±65504; load it as float32 instead", file);
            assertThatThrownBy(() -> checkpoint.load("scale", manager, DataType.FLOAT16))
                    .hasMessageContaining("tensor 'scale'").hasMessageContaining("element 1 of shape [2] is 70000.0 (F32)");
            assertThat(checkpoint.load("model.layers.0.mlp.down_proj.weight", manager, DataType.FLOAT32).toFloatArray()).containsExactly(1f, 1f, 1f, -65536f);
        }
    }

    private static short fromBfloat16(int bits) {
        return HalfFloats.fromFloat32(bits << 16);
    }

    private static int[] halfBits(NDArray array) {
        assertThat(array.getDataType()).isEqualTo(DataType.FLOAT16);
        ByteBuffer bytes = array.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        int[] bits = new int[bytes.remaining() / Short.BYTES];
        for (int index = 0; index < bits.length; index++) {
            bits[index] = bytes.getShort(index * Short.BYTES) & 0xFFFF;
        }
        return bits;
    }

    private static ByteBuffer shorts(int... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Short.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int value : values) {
            buffer.putShort((short) value);
        }
        return buffer.flip();
    }

    private static ByteBuffer ints(int... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int value : values) {
            buffer.putInt(value);
        }
        return buffer.flip();
    }

    private static ByteBuffer longs(long... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (long value : values) {
            buffer.putLong(value);
        }
        return buffer.flip();
    }
}
