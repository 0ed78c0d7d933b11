package dev.graft.runtime.format;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static dev.graft.runtime.format.SafetensorsBytes.file;
import static dev.graft.runtime.format.SafetensorsBytes.write;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

final class TestSafetensorsValidation {
    @TempDir
    Path directory;

    @Test
    void testFileShorterThanTheLengthPrefix() {
        assertInvalid(new byte[] {8, 0, 0, 0, 0}, "the file is 5 bytes, shorter than the 8-byte header length prefix; it is truncated or not a safetensors file");
    }

    @Test
    void testHeaderLengthLargerThanTheFile() {
        byte[] bytes = ByteBuffer.allocate(18).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).put("{\"a\":1}   ".getBytes()).array();
        assertInvalid(bytes, "the header length prefix says 1000 bytes but only 10 bytes follow it; the file is truncated");
    }

    @Test
    void testAbsurdHeaderLength() {
        byte[] justOver = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(100_000_001L).array();
        assertInvalid(justOver, "the header length prefix says 100000001 bytes, over the limit of 100000000 bytes; the file is corrupt or not a safetensors file");
        byte[] allOnes = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).array();
        assertInvalid(allOnes, "the header length prefix says 18446744073709551615 bytes, over the limit");
    }

    @Test
    void testHeaderThatIsNotJson() {
        assertInvalid(file("{\"a\": {\"dtype\": ", new byte[0]), "the header is not valid JSON: Unexpected end-of-input");
        assertInvalid(file("{} garbage", new byte[0]), "the header is not valid JSON: Unrecognized token 'garbage'");
        byte[] invalidUtf8 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(8).put(new byte[] {'{', '"', (byte) 0xC3, '(', '"', ':', '1', '}'}).array();
        assertInvalid(invalidUtf8, "the header is not valid UTF-8: malformed bytes at header byte 2");
        assertInvalid(file("\uFEFF{}   ", new byte[0]), "the header is not valid JSON: Unexpected character");
    }

    @Test
    void testHeaderThatIsNotAnObject() {
        assertInvalid(file("[1, 2]  ", new byte[0]), "the header must be a JSON object, found ARRAY");
        assertInvalid(file("", new byte[0]), "the header must be a JSON object, found nothing");
    }

    @Test
    void testEntryMissingAField() {
        assertInvalidTensor("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "w", "the entry has no 'dtype'; every tensor needs dtype, shape and data_offsets");
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "w", "the entry has no 'shape'");
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "w", "the entry has no 'data_offsets'");
        assertInvalidTensor("{\"w\":[1,2]}", 4, "w", "the entry must be a JSON object with dtype, shape and data_offsets, found ARRAY");
    }

    @Test
    void testUnknownDtype() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, "w",
                "unknown dtype 'F128'; known dtypes are BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64");
        assertInvalidTensor("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "w", "unknown dtype 'f32'");
    }

    @Test
    void testNegativeOrFractionalNumbers() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,4]}}", 4, "w", "shape[1] must be a non-negative integer, found -3");
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2x3\",\"data_offsets\":[0,4]}}", 4, "w", "shape must be an array of non-negative integers, found \"2x3\"");
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]}}", 4, "w", "data_offsets[0] must be a non-negative integer, found 0.5");
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "w", "data_offsets must be an array [begin, end], found [0,4,8]");
    }

    @Test
    void testEndBeforeBegin() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "w", "data_offsets [4, 0] end before they begin");
    }

    @Test
    void testOffsetsOutsideTheDataBuffer() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}", 24, "w",
                "data_offsets [0, 32] are outside the data buffer of 24 bytes; the file is truncated or the header is wrong");
    }

    @Test
    void testByteRangeThatDoesNotMatchDtypeAndShape() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, "w",
                "data_offsets [0, 12] hold 12 bytes but dtype F32 with shape [2, 2] needs 16 bytes (4 bytes per element)");
        assertInvalidTensor("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12, "w",
                "data_offsets [0, 12] hold 12 bytes but dtype BF16 with shape [3] needs 6 bytes (2 bytes per element)");
    }

    /** Fuzzing crasher: zero elements, so zero bytes matched, but the strides of the other dimensions overflowed in the engine. */
    @Test
    void testEmptyShapeWhoseOtherDimensionsOverflow() {
        assertInvalidTensor("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],\"data_offsets\":[0,0]}}", 0, "z",
                "shape [0, 4611686018427387904, 4611686018427387904] overflows 64 bits");
    }

    @Test
    void testShapeWhoseSizeOverflows() {
        assertInvalidTensor("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "w",
                "shape [4294967296, 4294967296] overflows 64 bits");
    }

    @Test
    void testOverlappingTensors() {
        assertInvalidTensor("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "b",
                "data_offsets [8, 16] overlap tensor 'a' at [0, 16]; tensors must not share bytes");
    }

    @Test
    void testGapInTheDataBuffer() {
        assertInvalidTensor("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}}", 24, "b",
                "data_offsets [20, 24] leave bytes [16, 20) of the data buffer unused; the tensors must cover the data buffer exactly");
        assertInvalidTensor("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a", "data_offsets [4, 8] leave bytes [0, 4) of the data buffer unused");
    }

    @Test
    void testBytesAfterTheLastTensor() {
        assertInvalid(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]),
                "the tensors end at byte 4 of the data buffer but it has 8 bytes; the last 4 bytes belong to no tensor");
    }

    @Test
    void testDuplicateTensorName() {
        assertInvalid(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", new byte[2]),
                "the header is not valid JSON: Duplicate field 'a'");
    }

    @Test
    void testMetadataThatIsNotAMapOfStrings() {
        assertInvalid(file("{\"__metadata__\":{\"epoch\":3}}", new byte[0]), "__metadata__ value of key 'epoch' must be a string, found NUMBER");
        assertInvalid(file("{\"__metadata__\":[\"pt\"]}", new byte[0]), "__metadata__ must be a JSON object of strings, found ARRAY");
    }

    private void assertInvalid(byte[] bytes, String problem) {
        Path path = write(directory.resolve("bad.safetensors"), bytes);
        assertThatThrownBy(() -> SafetensorsFile.open(path).close())
                .isInstanceOf(SafetensorsException.class)
                .hasMessageStartingWith("Invalid safetensors file " + path + ": " + problem);
    }

    private void assertInvalidTensor(String header, int dataLength, String tensor, String problem) {
        assertInvalid(file(header, new byte[dataLength]), "tensor '" + tensor + "': " + problem);
    }
}
