package dev.graft.it.peft;

import static java.lang.String.format;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The text Python's {@code json.dumps(value, indent=2, sort_keys=True)} gives, which is how PEFT's
 * {@code PeftConfigMixin.save_pretrained} writes {@code adapter_config.json} (no trailing newline). Covers what a
 * PEFT config holds: null, booleans, whole numbers, plain decimals, printable strings (non-ASCII escaped as Python's {@code ensure_ascii} does), lists and string-keyed maps.
 */
final class PythonJson {
    private PythonJson() {}

    static String dumps(Object value) {
        StringBuilder text = new StringBuilder();
        write(text, value, 0);
        return text.toString();
    }

    private static void write(StringBuilder text, Object value, int depth) {
        if (value == null) {
            text.append("null");
        }
        else if (value instanceof Boolean) {
            text.append(value);
        }
        else if (value instanceof Integer || value instanceof Long) {
            text.append(value);
        }
        else if (value instanceof Double) {
            text.append(decimal((Double) value));
        }
        else if (value instanceof String) {
            text.append(string((String) value));
        }
        else if (value instanceof List<?>) {
            List<?> list = (List<?>) value;
            if (list.isEmpty()) {
                text.append("[]");
                return;
            }
            text.append('[');
            for (int index = 0; index < list.size(); index++) {
                text.append(index == 0 ? "\n" : ",\n").append("  ".repeat(depth + 1));
                write(text, list.get(index), depth + 1);
            }
            text.append('\n').append("  ".repeat(depth)).append(']');
        }
        else if (value instanceof Map<?, ?>) {
            Map<String, Object> sorted = new TreeMap<>();
            ((Map<?, ?>) value).forEach((key, element) -> sorted.put((String) key, element));
            if (sorted.isEmpty()) {
                text.append("{}");
                return;
            }
            text.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> entry : sorted.entrySet()) {
                text.append(first ? "\n" : ",\n").append("  ".repeat(depth + 1)).append(string(entry.getKey())).append(": ");
                write(text, entry.getValue(), depth + 1);
                first = false;
            }
            text.append('\n').append("  ".repeat(depth)).append('}');
        }
        else {
            throw new IllegalArgumentException(format("a PEFT config holds no %s (%s)", value.getClass().getSimpleName(), value));
        }
    }

    /** Python's {@code repr} of a float for the plain decimals configs use: {@code 0.05}, {@code 16.0}. */
    private static String decimal(double value) {
        String text = Double.toString(value);
        if (text.contains("E") || !Double.isFinite(value)) {
            throw new IllegalArgumentException(format("%s would be spelled differently by Python; use a plain decimal", text));
        }
        return text;
    }

    private static String string(String value) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char character : value.toCharArray()) {
            if (character == '"' || character == '\\') {
                quoted.append('\\').append(character);
            }
            else if (character < 0x20) {
                throw new IllegalArgumentException(format("control character %d in %s: Python escapes it by name; keep config strings printable", (int) character, value));
            }
            else if (character > 0x7f) {
                quoted.append(format("\\u%04x", (int) character));
            }
            else {
                quoted.append(character);
            }
        }
        return quoted.append('"').toString();
    }
}
