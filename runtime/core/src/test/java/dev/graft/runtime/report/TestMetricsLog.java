package dev.graft.runtime.report;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestMetricsLog {
    @TempDir
    Path folder;

    @Test
    void testLinesAreJsonObjectsInInsertionOrderWithGatesOnlyWhenPresent() throws IOException {
        Path file = folder.resolve("run/metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.append(train(10, 0.5, 0.69, Map.of("lowrank", 0.48)));
            log.append(new MetricsRecord(20, 1.0, "validation", ordered("loss", 0.5, "accuracy", 0.75)));
        }

        assertThat(Files.readAllLines(file, UTF_8)).containsExactly(
                "{\"step\":10,\"epoch\":0.5,\"split\":\"train\",\"loss\":0.69,\"learning_rate\":1.0E-4,\"gates\":{\"lowrank\":0.48}}",
                "{\"step\":20,\"epoch\":1.0,\"split\":\"validation\",\"loss\":0.5,\"accuracy\":0.75}");
    }

    @Test
    void testRoundTripKeepsEveryValueAndItsOrder() {
        Path file = folder.resolve("metrics.jsonl");
        List<MetricsRecord> records = List.of(
                train(1, 0.05, 0.7, Map.of()),
                new MetricsRecord(2, 0.1, "validation", ordered("macro_f1", 0.6, "accuracy", 0.8, "loss", 0.65), ordered("lowrank", 0.51, "prefix", 0.49)),
                new MetricsRecord(3, 0.15, "test", ordered("perplexity", 12.25)));
        try (MetricsLog log = MetricsLog.create(file)) {
            records.forEach(log::append);
        }

        List<MetricsRecord> read = MetricsLog.read(file);

        assertThat(read).isEqualTo(records);
        assertThat(read.get(1).values().keySet()).containsExactly("macro_f1", "accuracy", "loss");
        assertThat(read.get(1).gates().keySet()).containsExactly("lowrank", "prefix");
    }

    @Test
    void testNanAndInfinityAreWrittenAsNullAndReadAsNan() throws IOException {
        Path file = folder.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.append(new MetricsRecord(5, 0.25, "train", ordered("loss", Double.NaN, "grad_norm", Double.POSITIVE_INFINITY), ordered("lowrank", Double.NaN)));
        }

        assertThat(Files.readString(file, UTF_8)).isEqualTo("{\"step\":5,\"epoch\":0.25,\"split\":\"train\",\"loss\":null,\"grad_norm\":null,\"gates\":{\"lowrank\":null}}\n");
        MetricsRecord read = MetricsLog.read(file).get(0);
        assertThat(read.values().get("loss")).isNaN();
        assertThat(read.values().get("grad_norm")).isNaN();
        assertThat(read.gates().get("lowrank")).isNaN();
    }

    @Test
    void testCreateTruncatesAnExistingLog() {
        Path file = folder.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            log.append(train(1, 0.1, 0.9, Map.of()));
        }
        try (MetricsLog log = MetricsLog.create(file)) {
            log.append(train(7, 0.7, 0.3, Map.of()));
        }

        assertThat(MetricsLog.read(file)).extracting(MetricsRecord::step).containsExactly(7L);
    }

    @Test
    void testResumeKeepsStepsUpToTheCheckpointThenAppends() {
        Path file = folder.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(file)) {
            for (long step = 10; step <= 50; step += 10) {
                log.append(train(step, step / 100.0, 1.0 / step, Map.of()));
            }
            log.append(new MetricsRecord(30, 0.3, "validation", ordered("loss", 0.4)));
        }

        try (MetricsLog log = MetricsLog.resume(file, 30)) {
            log.append(train(40, 0.4, 0.02, Map.of()));
        }

        List<MetricsRecord> read = MetricsLog.read(file);
        assertThat(read).extracting(MetricsRecord::step).containsExactly(10L, 20L, 30L, 30L, 40L);
        assertThat(read).extracting(MetricsRecord::split).containsExactly("train", "train", "train", "validation", "train");
        assertThat(read.get(4).values().get("loss")).isEqualTo(0.02);
    }

    @Test
    void testResumeDropsALastLineCutShortByAKilledRun() throws IOException {
        Path file = folder.resolve("metrics.jsonl");
        Files.writeString(file, "{\"step\":10,\"epoch\":0.5,\"split\":\"train\",\"loss\":0.69}\n{\"step\":20,\"epo", UTF_8);

        try (MetricsLog log = MetricsLog.resume(file, 100)) {
            log.append(train(20, 1.0, 0.5, Map.of()));
        }

        assertThat(MetricsLog.read(file)).extracting(MetricsRecord::step).containsExactly(10L, 20L);
    }

    @Test
    void testResumeOfAMissingLogCreatesIt() {
        Path file = folder.resolve("metrics.jsonl");

        try (MetricsLog log = MetricsLog.resume(file, 10)) {
            log.append(train(11, 0.5, 0.6, Map.of()));
        }

        assertThat(MetricsLog.read(file)).extracting(MetricsRecord::step).containsExactly(11L);
    }

    @Test
    void testBadJsonNamesTheFileAndLine() throws IOException {
        Path file = folder.resolve("metrics.jsonl");
        Files.writeString(file, "{\"step\":1,\"epoch\":0.1,\"split\":\"train\",\"loss\":0.7}\n\n{\"step\":\"two\",\"split\":\"train\"}\n", UTF_8);

        assertThatThrownBy(() -> MetricsLog.read(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(file + ", line 3: \"step\" is \"two\", not a whole number; each line of a metrics log is one JSON object such as "
                        + "{\"step\":10,\"epoch\":0.5,\"split\":\"train\",\"loss\":0.69}");
    }

    @Test
    void testTruncatedJsonNamesTheLine() throws IOException {
        Path file = folder.resolve("metrics.jsonl");
        Files.writeString(file, "{\"step\":1,\"split\":\"train\",\"loss\":0.7}\n{\"step\":2,\n", UTF_8);

        assertThatThrownBy(() -> MetricsLog.read(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(file + ", line 2: not valid JSON (");
    }

    @Test
    void testAppendAfterCloseIsRejected() {
        Path file = folder.resolve("metrics.jsonl");
        MetricsLog log = MetricsLog.create(file);
        log.close();

        assertThatThrownBy(() -> log.append(train(1, 0.1, 0.5, Map.of())))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("The metrics log " + file + " is closed; append before closing it");
    }

    @Test
    void testReservedMetricNameIsRejected() {
        assertThatThrownBy(() -> new MetricsRecord(1, 0.1, "train", Map.of("step", 1.0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Metrics of split train at step 1 hold a metric named \"step\"; rename it:");
    }

    private static MetricsRecord train(long step, double epoch, double loss, Map<String, Double> gates) {
        return new MetricsRecord(step, epoch, "train", ordered("loss", loss, "learning_rate", 1e-4), gates);
    }

    private static Map<String, Double> ordered(Object... namesAndValues) {
        Map<String, Double> map = new LinkedHashMap<>();
        for (int index = 0; index < namesAndValues.length; index += 2) {
            map.put((String) namesAndValues[index], (Double) namesAndValues[index + 1]);
        }
        return map;
    }
}
