package dev.graft.runtime.format;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * The parsed and validated header of a safetensors file.
 *
 * <p>Validation follows the Rust {@code safetensors} crate ({@code SafeTensors::read_metadata} and
 * {@code Metadata::validate}): the header is at most 100,000,000 bytes of JSON; sorted by offsets, the
 * tensors tile the data buffer exactly, starting at 0, without gaps or overlaps, and the last one ends
 * at the end of the file; each tensor's byte range equals its element count times its dtype size.
 * Unknown fields of a tensor entry are ignored, as serde does. Stricter than the crate: duplicate
 * names are rejected instead of the last one silently winning.
 *
 * @param headerLength the number of JSON bytes after the 8-byte length prefix
 * @param tensors the tensor entries, in header order
 * @param metadata the {@code __metadata__} map, in header order; empty when absent
 */
record SafetensorsHeader(long headerLength, List<TensorInfo> tensors, Map<String, String> metadata) {
    /** The header size limit of the Rust crate ({@code MAX_HEADER_SIZE}). */
    static final long MAX_HEADER_LENGTH = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";
    private static final int LENGTH_PREFIX_BYTES = 8;
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    SafetensorsHeader {
        tensors = List.copyOf(requireNonNull(tensors, "tensors is null"));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(metadata, "metadata is null")));
    }

    /** Where the data buffer starts in the file. */
    long dataStart() {
        return LENGTH_PREFIX_BYTES + headerLength;
    }

    /** Reads and validates the header of {@code file}, open as {@code channel}. */
    static SafetensorsHeader read(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < LENGTH_PREFIX_BYTES) {
            throw invalid(file, "the file is %d bytes, shorter than the 8-byte header length prefix; it is truncated or not a safetensors file", fileSize);
        }
        ByteBuffer prefix = ByteBuffer.allocate(LENGTH_PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, prefix, 0);
        long headerLength = prefix.getLong(0);
        if (Long.compareUnsigned(headerLength, MAX_HEADER_LENGTH) > 0) {
            throw invalid(file, "the header length prefix says %s bytes, over the limit of %d bytes; the file is corrupt or not a safetensors file",
                    Long.toUnsignedString(headerLength), MAX_HEADER_LENGTH);
        }
        if (headerLength > fileSize - LENGTH_PREFIX_BYTES) {
            throw invalid(file, "the header length prefix says %d bytes but only %d bytes follow it; the file is truncated",
                    headerLength, fileSize - LENGTH_PREFIX_BYTES);
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(channel, headerBytes, LENGTH_PREFIX_BYTES);
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes)
                    .toString();
        }
        catch (CharacterCodingException e) {
            throw invalid(file, "the header is not valid UTF-8: malformed bytes at header byte %d", headerBytes.position());
        }
        JsonNode root;
        try {
            root = JSON.readTree(headerText);
        }
        catch (JsonProcessingException e) {
            throw invalid(file, "the header is not valid JSON: %s", e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode() || !root.isObject()) {
            throw invalid(file, "the header must be a JSON object, found %s", root == null || root.isMissingNode() ? "nothing" : root.getNodeType());
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        long dataLength = fileSize - LENGTH_PREFIX_BYTES - headerLength;
        Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (field.getKey().equals(METADATA_KEY)) {
                metadata.putAll(parseMetadata(file, field.getValue()));
            }
            else {
                tensors.add(parseTensor(file, field.getKey(), field.getValue(), dataLength));
            }
        }
        checkCoverage(file, tensors, dataLength);
        return new SafetensorsHeader(headerLength, tensors, metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        Map<String, String> metadata = new LinkedHashMap<>();
        if (node.isNull()) {
            return metadata;
        }
        if (!node.isObject()) {
            throw invalid(file, "%s must be a JSON object of strings, found %s", METADATA_KEY, node.getNodeType());
        }
        Iterator<Map.Entry<String, JsonNode>> entries = node.fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            if (!entry.getValue().isTextual()) {
                throw invalid(file, "%s value of key '%s' must be a string, found %s", METADATA_KEY, entry.getKey(), entry.getValue().getNodeType());
            }
            metadata.put(entry.getKey(), entry.getValue().textValue());
        }
        return metadata;
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw invalidTensor(file, name, "the entry must be a JSON object with dtype, shape and data_offsets, found %s", node.getNodeType());
        }
        Dtype dtype = parseDtype(file, name, field(file, name, node, "dtype"));
        List<Long> shape = parseShape(file, name, field(file, name, node, "shape"));
        JsonNode offsets = field(file, name, node, "data_offsets");
        if (!offsets.isArray() || offsets.size() != 2) {
            throw invalidTensor(file, name, "data_offsets must be an array [begin, end], found %s", offsets);
        }
        long begin = nonNegativeInteger(file, name, "data_offsets[0]", offsets.get(0));
        long end = nonNegativeInteger(file, name, "data_offsets[1]", offsets.get(1));
        if (end < begin) {
            throw invalidTensor(file, name, "data_offsets [%d, %d] end before they begin", begin, end);
        }
        if (end > dataLength) {
            throw invalidTensor(file, name, "data_offsets [%d, %d] are outside the data buffer of %d bytes; the file is truncated or the header is wrong",
                    begin, end, dataLength);
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
            // An empty tensor's strides are products of its other dimensions: they must fit too (a fuzzing crasher).
            shape.stream().mapToLong(dimension -> Math.max(dimension, 1)).reduce(1, Math::multiplyExact);
        }
        catch (ArithmeticException e) {
            throw invalidTensor(file, name, "shape %s overflows 64 bits", shape);
        }
        if (end - begin != expectedBytes) {
            throw invalidTensor(file, name, "data_offsets [%d, %d] hold %d bytes but dtype %s with shape %s needs %d bytes (%d bytes per element)",
                    begin, end, end - begin, dtype, shape, expectedBytes, dtype.byteSize());
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonNode field(Path file, String name, JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null) {
            throw invalidTensor(file, name, "the entry has no '%s'; every tensor needs dtype, shape and data_offsets", key);
        }
        return value;
    }

    private static Dtype parseDtype(Path file, String name, JsonNode node) {
        if (!node.isTextual()) {
            throw invalidTensor(file, name, "dtype must be a string, found %s", node);
        }
        return Dtype.fromName(node.textValue())
                .orElseThrow(() -> invalidTensor(file, name, "unknown dtype '%s'; known dtypes are %s", node.textValue(), Dtype.names()));
    }

    private static List<Long> parseShape(Path file, String name, JsonNode node) {
        if (!node.isArray()) {
            throw invalidTensor(file, name, "shape must be an array of non-negative integers, found %s", node);
        }
        List<Long> shape = new ArrayList<>(node.size());
        for (int index = 0; index < node.size(); index++) {
            shape.add(nonNegativeInteger(file, name, format("shape[%d]", index), node.get(index)));
        }
        return shape;
    }

    private static long nonNegativeInteger(Path file, String name, String what, JsonNode node) {
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw invalidTensor(file, name, "%s must be a non-negative integer, found %s", what, node);
        }
        long value = node.longValue();
        if (value < 0) {
            throw invalidTensor(file, name, "%s must be a non-negative integer, found %d", what, value);
        }
        return value;
    }

    /** Checks that the tensors, sorted by offsets, tile the data buffer exactly, as the Rust crate requires. */
    private static void checkCoverage(Path file, List<TensorInfo> tensors, long dataLength) {
        Set<String> names = new HashSet<>();
        for (TensorInfo tensor : tensors) {
            if (!names.add(tensor.name())) {
                throw invalidTensor(file, tensor.name(), "the name appears twice in the header");
            }
        }
        List<TensorInfo> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingLong(TensorInfo::dataBegin).thenComparingLong(TensorInfo::dataEnd));
        long expectedBegin = 0;
        TensorInfo previous = null;
        for (TensorInfo tensor : sorted) {
            if (tensor.dataBegin() < expectedBegin) {
                throw invalidTensor(file, tensor.name(), "data_offsets [%d, %d] overlap tensor '%s' at [%d, %d]; tensors must not share bytes",
                        tensor.dataBegin(), tensor.dataEnd(), previous.name(), previous.dataBegin(), previous.dataEnd());
            }
            if (tensor.dataBegin() > expectedBegin) {
                throw invalidTensor(file, tensor.name(), "data_offsets [%d, %d] leave bytes [%d, %d) of the data buffer unused; the tensors must cover the data buffer exactly",
                        tensor.dataBegin(), tensor.dataEnd(), expectedBegin, tensor.dataBegin());
            }
            expectedBegin = tensor.dataEnd();
            previous = tensor;
        }
        if (expectedBegin != dataLength) {
            throw invalid(file, "the tensors end at byte %d of the data buffer but it has %d bytes; the last %d bytes belong to no tensor",
                    expectedBegin, dataLength, dataLength - expectedBegin);
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long offset = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, offset);
            if (read < 0) {
                throw new IOException(format("unexpected end of file at byte %d", offset));
            }
            offset += read;
        }
        buffer.flip();
    }

    static SafetensorsException invalid(Path file, String detail, Object... arguments) {
        return new SafetensorsException(format("Invalid safetensors file %s: %s", file, format(detail, arguments)));
    }

    static SafetensorsException invalidTensor(Path file, String tensor, String detail, Object... arguments) {
        return new SafetensorsException(format("Invalid safetensors file %s: tensor '%s': %s", file, tensor, format(detail, arguments)));
    }
}
