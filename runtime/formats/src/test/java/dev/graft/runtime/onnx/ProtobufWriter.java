package dev.graft.runtime.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Writes protobuf wire format by hand, to build ONNX files (valid or broken on purpose) for the reader's tests. */
final class ProtobufWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    ProtobufWriter tag(int field, int wireType) {
        return rawVarint(((long) field << 3) | wireType);
    }

    ProtobufWriter rawVarint(long value) {
        long remaining = value;
        while ((remaining & ~0x7fL) != 0) {
            out.write((int) ((remaining & 0x7f) | 0x80));
            remaining >>>= 7;
        }
        out.write((int) remaining);
        return this;
    }

    ProtobufWriter raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    ProtobufWriter varint(int field, long value) {
        return tag(field, 0).rawVarint(value);
    }

    ProtobufWriter fixed32(int field, int bits) {
        tag(field, 5);
        return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(bits).array());
    }

    ProtobufWriter fixed64(int field, long bits) {
        tag(field, 1);
        return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(bits).array());
    }

    ProtobufWriter bytes(int field, byte[] bytes) {
        tag(field, 2).rawVarint(bytes.length);
        return raw(bytes);
    }

    ProtobufWriter string(int field, String value) {
        return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    ProtobufWriter message(int field, ProtobufWriter message) {
        return bytes(field, message.toByteArray());
    }

    ProtobufWriter packedVarints(int field, long... values) {
        ProtobufWriter packed = new ProtobufWriter();
        for (long value : values) {
            packed.rawVarint(value);
        }
        return bytes(field, packed.toByteArray());
    }

    ProtobufWriter packedFloats(int field, float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return bytes(field, buffer.array());
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }

    /** Little-endian float32 bytes, as {@code raw_data} holds them. */
    static byte[] floatBytes(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    /** Little-endian int64 bytes. */
    static byte[] longBytes(long... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long value : values) {
            buffer.putLong(value);
        }
        return buffer.array();
    }

    /** Little-endian 16-bit patterns. */
    static byte[] shortBytes(int... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int value : values) {
            buffer.putShort((short) value);
        }
        return buffer.array();
    }
}
