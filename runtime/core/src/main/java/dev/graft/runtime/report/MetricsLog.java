package dev.graft.runtime.report;

import dev.graft.runtime.io.AtomicFiles;

import static java.lang.String.format;
import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * metrics.jsonl: one JSON object per line, {@code {"step":10,"epoch":0.5,"split":"train","loss":0.69,...,
 * "gates":{"lowrank":0.48}}}. "gates" is written only when the record has gates; NaN and infinite values are written
 * as null and read back as NaN. Every appended line is flushed at once, so the file is complete up to the last step
 * even when the run is killed.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final String GATES = "gates";

    private final Path file;
    private final BufferedWriter writer;
    private boolean closed;

    private MetricsLog(Path file, BufferedWriter writer) {
        this.file = requireNonNull(file, "file is null");
        this.writer = requireNonNull(writer, "writer is null");
    }

    /** Creates {@code file} (and its folder), or truncates it when it exists, and opens it for appending. */
    public static MetricsLog create(Path file) {
        requireNonNull(file, "file is null");
        createFolder(file);
        return open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
    }

    /**
     * Opens an existing log to continue a resumed run: keeps only the records with a step of at most {@code step}
     * (the file is rewritten atomically), then appends. A last line cut short by a killed run is dropped; a log that
     * does not exist is created.
     */
    public static MetricsLog resume(Path file, long step) {
        requireNonNull(file, "file is null");
        if (!Files.exists(file)) {
            return create(file);
        }
        List<MetricsRecord> kept = new ArrayList<>();
        for (MetricsRecord record : parse(file, readText(file), true)) {
            if (record.step() <= step) {
                kept.add(record);
            }
        }
        StringBuilder text = new StringBuilder();
        for (MetricsRecord record : kept) {
            text.append(line(record)).append('\n');
        }
        AtomicFiles.write(file, text.toString().getBytes(UTF_8));
        return open(file, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    /** Appends one record as one line and flushes it. */
    public synchronized void append(MetricsRecord record) {
        requireNonNull(record, "record is null");
        if (closed) {
            throw new IllegalStateException(format("The metrics log %s is closed; append before closing it", file));
        }
        try {
            writer.write(line(record));
            writer.write('\n');
            writer.flush();
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot append to the metrics log %s: %s", file, e.getMessage()), e);
        }
    }

    /** Every record of {@code file}, in file order; blank lines are skipped. Bad JSON is an IllegalArgumentException naming the line. */
    public static List<MetricsRecord> read(Path file) {
        requireNonNull(file, "file is null");
        return parse(file, readText(file), false);
    }

    /** Closes the file; closing twice does nothing. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            writer.close();
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot close the metrics log %s: %s", file, e.getMessage()), e);
        }
    }

    static String line(MetricsRecord record) {
        ObjectNode node = JSON.createObjectNode();
        node.put("step", record.step());
        putNumber(node, "epoch", record.epoch());
        node.put("split", record.split());
        record.values().forEach((name, value) -> putNumber(node, name, value));
        if (!record.gates().isEmpty()) {
            ObjectNode gates = node.putObject(GATES);
            record.gates().forEach((name, value) -> putNumber(gates, name, value));
        }
        try {
            return JSON.writeValueAsString(node);
        }
        catch (JsonProcessingException e) {
            throw new IllegalStateException(format("Cannot write metrics of step %d as JSON: %s", record.step(), e.getOriginalMessage()), e);
        }
    }

    private static void putNumber(ObjectNode node, String name, double value) {
        if (Double.isFinite(value)) {
            node.put(name, value);
        }
        else {
            node.putNull(name);
        }
    }

    private static List<MetricsRecord> parse(Path file, String text, boolean dropCutLastLine) {
        String[] lines = text.split("\n", -1);
        List<MetricsRecord> records = new ArrayList<>();
        for (int index = 0; index < lines.length; index++) {
            String line = lines[index];
            if (line.isBlank()) {
                continue;
            }
            boolean cutShort = index == lines.length - 1;
            try {
                records.add(record(line));
            }
            catch (IllegalArgumentException e) {
                if (dropCutLastLine && cutShort) {
                    break;
                }
                throw new IllegalArgumentException(format("%s, line %d: %s; each line of a metrics log is one JSON object such as "
                        + "{\"step\":10,\"epoch\":0.5,\"split\":\"train\",\"loss\":0.69}", file, index + 1, e.getMessage()), e);
            }
        }
        return List.copyOf(records);
    }

    private static MetricsRecord record(String line) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        }
        catch (JsonProcessingException e) {
            throw new IllegalArgumentException(format("not valid JSON (%s)", e.getOriginalMessage()), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        JsonNode step = node.get("step");
        if (step == null || !step.canConvertToExactIntegral() || !step.canConvertToLong()) {
            throw new IllegalArgumentException(format("\"step\" is %s, not a whole number", step == null ? "missing" : step));
        }
        JsonNode split = node.get("split");
        if (split == null || !split.isTextual()) {
            throw new IllegalArgumentException(format("\"split\" is %s, not a string", split == null ? "missing" : split));
        }
        double epoch = node.has("epoch") ? number(node.get("epoch"), "epoch") : Double.NaN;
        Map<String, Double> values = new LinkedHashMap<>();
        Map<String, Double> gates = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            if (name.equals(GATES)) {
                if (!field.getValue().isObject()) {
                    throw new IllegalArgumentException(format("\"gates\" is %s, not an object of adapter name to mean gate value", field.getValue()));
                }
                field.getValue().fields().forEachRemaining(gate -> gates.put(gate.getKey(), number(gate.getValue(), "gates." + gate.getKey())));
            }
            else if (!MetricsRecord.RESERVED_NAMES.contains(name)) {
                values.put(name, number(field.getValue(), name));
            }
        }
        return new MetricsRecord(step.asLong(), epoch, split.asText(), values, gates);
    }

    private static double number(JsonNode value, String name) {
        if (value.isNull()) {
            return Double.NaN;
        }
        if (!value.isNumber()) {
            throw new IllegalArgumentException(format("\"%s\" is %s, not a number or null", name, value));
        }
        return value.asDouble();
    }

    private static MetricsLog open(Path file, StandardOpenOption... options) {
        try {
            return new MetricsLog(file, new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(file, options), UTF_8)));
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot open the metrics log %s: %s", file, e.getMessage()), e);
        }
    }

    private static String readText(Path file) {
        try {
            return Files.readString(file, UTF_8);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot read the metrics log %s: %s", file, e.getMessage()), e);
        }
    }

    private static void createFolder(Path file) {
        Path folder = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(folder);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot create the folder %s for the metrics log: %s", folder, e.getMessage()), e);
        }
    }
}
