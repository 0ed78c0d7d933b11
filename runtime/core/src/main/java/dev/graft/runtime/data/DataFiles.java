package dev.graft.runtime.data;

import static java.lang.String.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads labelled examples from JSON lines or CSV files (UTF-8, a byte-order mark skipped). JSONL: one JSON object per
 * non-blank line; strings, numbers (as written) and booleans become strings, null is absent, arrays and objects are an
 * error naming the field. CSV: RFC 4180 with a header row; a record's line is the physical line where it starts.
 */
public final class DataFiles {
    private static final ObjectMapper JSON = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private DataFiles() {}

    /**
     * Every example of {@code file}.
     *
     * @throws DataException naming the file and line on unreadable, malformed or empty data
     */
    public static List<Example> read(Path file, DataFormat format) {
        if (!Files.isRegularFile(file)) {
            throw new DataException(format("data file %s does not exist", file));
        }
        DataFormat actual = format.of(file);
        List<Example> examples;
        try {
            examples = actual == DataFormat.JSONL ? readJsonLines(file) : readCsv(file);
        }
        catch (IOException e) {
            throw new DataException(format("cannot read data file %s: %s", file, e.getMessage()), e);
        }
        if (examples.isEmpty()) {
            throw new DataException(format("data file %s holds no examples", file));
        }
        return List.copyOf(examples);
    }

    private static Reader open(Path file) throws IOException {
        BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        reader.mark(1);
        if (reader.read() != '\uFEFF') {
            reader.reset();
        }
        return reader;
    }

    private static List<Example> readJsonLines(Path file) throws IOException {
        List<Example> examples = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(open(file))) {
            long number = 0;
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                SourceLine source = new SourceLine(file, number);
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                }
                catch (JsonProcessingException e) {
                    throw new DataException(format("%s: not valid JSON (%s, column %d)", source, e.getOriginalMessage(),
                            e.getLocation() == null ? 0 : e.getLocation().getColumnNr()), e);
                }
                catch (NumberFormatException e) {
                    // Jackson reads decimals exactly (BigDecimal), which refuses exponents beyond its range (found by TestDataFilesFuzzing)
                    throw new DataException(format("%s: a number is out of range (%s); write it as a string or in a smaller form", source, e.getMessage()), e);
                }
                if (node == null || !node.isObject()) {
                    throw new DataException(format("%s: expected a JSON object such as {\"text\": \"...\", \"label\": \"...\"}, found %s", source, node));
                }
                Map<String, String> fields = new LinkedHashMap<>();
                Iterator<Map.Entry<String, JsonNode>> entries = node.fields();
                while (entries.hasNext()) {
                    Map.Entry<String, JsonNode> entry = entries.next();
                    JsonNode value = entry.getValue();
                    if (value.isNull()) {
                        continue;
                    }
                    if (value.isContainerNode()) {
                        throw new DataException(format("%s: field '%s' holds %s; a field must be a string, a number or a boolean", source, entry.getKey(),
                                value.isArray() ? "an array" : "an object"));
                    }
                    fields.put(entry.getKey(), value.isNumber() ? value.numberValue().toString() : value.asText());
                }
                examples.add(new Example(source, fields));
            }
        }
        return examples;
    }

    private static List<Example> readCsv(Path file) throws IOException {
        char separator = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".tsv") ? '\t' : ',';
        CsvMapper mapper = new CsvMapper();
        mapper.enable(CsvParser.Feature.WRAP_AS_ARRAY);
        List<Example> examples = new ArrayList<>();
        try (Reader reader = open(file);
                MappingIterator<List<String>> rows = mapper.readerFor(List.class).with(CsvSchema.emptySchema().withColumnSeparator(separator)).readValues(reader)) {
            List<String> header = null;
            while (true) {
                long line = rows.getCurrentLocation() == null ? 0 : rows.getCurrentLocation().getLineNr();
                List<String> row;
                try {
                    if (!rows.hasNextValue()) {
                        break;
                    }
                    line = rows.getParser().currentLocation().getLineNr();
                    row = rows.nextValue();
                }
                catch (JsonProcessingException e) {
                    throw new DataException(format("%s: not valid CSV (%s)", new SourceLine(file, e.getLocation() == null ? line : e.getLocation().getLineNr()),
                            e.getOriginalMessage()), e);
                }
                if (row.size() == 1 && row.get(0).isEmpty()) {
                    continue;
                }
                if (header == null) {
                    header = row;
                    continue;
                }
                SourceLine source = new SourceLine(file, line);
                if (row.size() != header.size()) {
                    throw new DataException(format("%s: %d columns, but the header (line 1) has %d: %s", source, row.size(), header.size(), header));
                }
                Map<String, String> fields = new LinkedHashMap<>();
                for (int column = 0; column < header.size(); column++) {
                    fields.put(header.get(column), row.get(column));
                }
                examples.add(new Example(source, fields));
            }
        }
        return examples;
    }
}
