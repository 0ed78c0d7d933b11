package dev.graft.runtime.onnx;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked reader of the protobuf wire format over one message's bytes: tags, varints, fixed-width
 * numbers and length-delimited fields (strings, bytes, sub-messages, packed repeated numbers). Every read
 * checks it stays inside the message; a violation is an {@link OnnxFormatException} naming the file and the
 * byte offset.
 */
final class ProtobufReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final ByteBuffer buffer;
    private final String source;
    private final int limit;
    private int position;

    /** Reads all of {@code buffer} from its position to its limit; {@code source} names the file in errors. */
    ProtobufReader(ByteBuffer buffer, String source) {
        this(buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN), requireNonNull(source, "source is null"), buffer.position(), buffer.limit());
    }

    private ProtobufReader(ByteBuffer buffer, String source, int start, int end) {
        this.buffer = buffer;
        this.source = source;
        this.position = start;
        this.limit = end;
    }

    String source() {
        return source;
    }

    /** The absolute offset of the next byte. */
    int offset() {
        return position;
    }

    boolean hasNext() {
        return position < limit;
    }

    /** The next field's tag: field number {@code tag >>> 3}, wire type {@code tag & 7}. */
    int nextTag() {
        int start = position;
        long tag = readVarint();
        if (tag >>> 3 == 0 || tag > Integer.MAX_VALUE) {
            throw error(start, format("invalid field tag %d", tag));
        }
        return (int) tag;
    }

    static int field(int tag) {
        return tag >>> 3;
    }

    static int wireType(int tag) {
        return tag & 7;
    }

    long readVarint() {
        int start = position;
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (position >= limit) {
                throw error(start, "truncated varint");
            }
            byte current = buffer.get(position++);
            value |= (long) (current & 0x7f) << shift;
            if ((current & 0x80) == 0) {
                return value;
            }
        }
        throw error(start, "varint longer than 10 bytes");
    }

    int readFixed32() {
        require(4, "fixed32");
        int value = buffer.getInt(position);
        position += 4;
        return value;
    }

    long readFixed64() {
        require(8, "fixed64");
        long value = buffer.getLong(position);
        position += 8;
        return value;
    }

    /** A reader over the next length-delimited field's bytes; this reader moves past them. */
    ProtobufReader readMessage() {
        int length = readLength();
        ProtobufReader message = new ProtobufReader(buffer, source, position, position + length);
        position += length;
        return message;
    }

    /** The next length-delimited field's bytes: a read-only little-endian view, not a copy. */
    ByteBuffer readBytes() {
        int length = readLength();
        ByteBuffer bytes = buffer.duplicate();
        bytes.limit(position + length).position(position);
        position += length;
        return bytes.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    String readString() {
        int length = readLength();
        byte[] bytes = new byte[length];
        buffer.duplicate().position(position).get(bytes);
        position += length;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Skips a field of {@code wireType} whose tag was just read. */
    void skip(int wireType) {
        switch (wireType) {
            case VARINT:
                readVarint();
                break;
            case FIXED64:
                require(8, "fixed64");
                position += 8;
                break;
            case LENGTH_DELIMITED:
                int length = readLength();
                position += length;
                break;
            case FIXED32:
                require(4, "fixed32");
                position += 4;
                break;
            default:
                throw error(position, format("unsupported wire type %d (protobuf groups are not used by ONNX)", wireType));
        }
    }

    /** Fails unless {@code tag} has {@code expected} wire type; {@code what} names the field. */
    void expectWireType(int tag, int expected, String what) {
        if (wireType(tag) != expected) {
            throw error(position, format("%s (field %d) has wire type %d, expected %d", what, field(tag), wireType(tag), expected));
        }
    }

    OnnxFormatException error(int at, String message) {
        return new OnnxFormatException(format("ONNX file %s: %s at byte %d", source, message, at));
    }

    private int readLength() {
        int start = position;
        long length = readVarint();
        if (length < 0 || length > limit - position) {
            throw error(start, format("length %d runs past the end of its message (%d bytes left)", length, limit - position));
        }
        return (int) length;
    }

    private void require(int bytes, String what) {
        if (limit - position < bytes) {
            throw error(position, format("truncated %s (%d bytes left)", what, limit - position));
        }
    }
}
