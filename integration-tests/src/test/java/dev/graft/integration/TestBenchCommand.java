package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.integration.GraftCli.Result;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft bench} on tiny models with one iteration: the table has every row and column, and the numbers are
 * positive. Nothing here asserts a time.
 */
final class TestBenchCommand {
    private static final String TABLE_HEADER = "| section | row | median ms | min ms | max ms | tokens/s | ratio | trainable params | optimizer state | peak RSS | GFLOP/s |";

    @TempDir
    Path scratch;

    @Test
    void testEveryRowOnATinyLlama() {
        Path model = scratch.resolve("tiny-llama");
        assertThat(graft("tiny-llama", "--output", model.toString()).exitCode()).isZero();

        Result result = graft("bench", "--model", model.toString(), "--batch", "2", "--length", "8", "--iterations", "1", "--warmup", "0");

        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> lines = result.out().lines().toList();
        assertThat(lines.get(0)).startsWith("graft bench: model " + model + " (llama, ").contains("batch 2 x length 8 = 16 tokens");
        assertThat(lines.get(1)).startsWith("machine: ").contains("DJL 0.36.0", "PyTorch 2.7.1");
        assertThat(lines).contains(TABLE_HEADER);
        List<List<String>> rows = rows(lines);
        assertThat(rows).extracting(row -> row.get(0) + ": " + row.get(1)).containsExactly(
                "training: floor (forward + backward, activation gradients only)",
                "training: LoRA r=8 q,v",
                "training: LoRA r=8 all-linear",
                "training: IA3 (default targets)",
                "training: VeRA r=256 q,v",
                "training: Bone r=64 q,v",
                "training: prefix 20 tokens",
                "training: bottleneck adapter (default)",
                "training: prompt tuning 20 tokens",
                "training: UniPELT (gated LoRA r=8 q,v + prefix 20 + adapter)",
                "training: full fine-tuning (every base weight + head)",
                "inference: base forward (no adapter)",
                "inference: LoRA r=8 q,v, unmerged",
                "inference: LoRA r=8 q,v, merged",
                "inference: LoRA r=8 all-linear, unmerged",
                "inference: LoRA r=8 all-linear, merged",
                "inference: IA3 (default targets), unmerged",
                "inference: IA3 (default targets), merged",
                "inference: VeRA r=256 q,v, unmerged",
                "inference: VeRA r=256 q,v, merged",
                "inference: Bone r=64 q,v, unmerged",
                "inference: Bone r=64 q,v, merged",
                "inference: prefix 20 tokens, unmerged",
                "inference: bottleneck adapter (default), unmerged",
                "inference: prompt tuning 20 tokens, unmerged",
                "inference: UniPELT (gated LoRA r=8 q,v + prefix 20 + adapter), unmerged");
        for (List<String> row : rows) {
            assertPositiveNumbers(row);
            String reference = row.get(0).equals("training") ? "floor" : "base";
            assertThat(row.get(6)).as("ratio of %s", row.get(1)).matches("[0-9]+\\.[0-9]{2}x " + reference);
            boolean trains = row.get(0).equals("training") && !row.get(1).startsWith("floor");
            long trainable = Long.parseLong(row.get(7).replace(",", ""));
            assertThat(trainable > 0).as("trainable parameters of %s", row.get(1)).isEqualTo(trains);
            assertThat(row.get(8)).as("optimizer state of %s", row.get(1)).matches(trains ? "[0-9.]+ (KiB|MiB)" : "0\\.0 KiB");
            assertThat(row.get(8).startsWith("0.0 ")).as("optimizer state of %s", row.get(1)).isEqualTo(!trains);
            assertThat(row.get(9)).as("peak RSS of %s", row.get(1)).matches("[0-9.]+ MiB").isNotEqualTo("0.0 MiB");
        }
        List<String> base = rows.stream().filter(row -> row.get(1).startsWith("base forward")).findFirst().orElseThrow();
        assertThat(base.get(6)).isEqualTo("1.00x base");
        assertThat(base.get(10)).matches("[0-9.]+ \\([0-9]+% of peak\\)");
        assertThat(Double.parseDouble(base.get(10).split(" ")[0])).isPositive();
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith("fp32 peak = ").contains(" cores x ", " lanes ", " GHz "));
    }

    @Test
    void testTheBundledMiniLmTrainsAClassifierAndSendsTheFloorToThePositionEmbeddings() {
        Result result = graft("bench", "--batch", "2", "--length", "8", "--iterations", "2", "--warmup", "1", "--rows", "base,floor,lora");

        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> lines = result.out().lines().toList();
        assertThat(lines.get(0)).startsWith("graft bench: model minilm (bert, ");
        List<List<String>> rows = rows(lines);
        assertThat(rows).extracting(row -> row.get(1)).containsExactly("floor (forward + backward, activation gradients only)", "LoRA r=8 q,v",
                "base forward (no adapter)", "LoRA r=8 q,v, unmerged", "LoRA r=8 q,v, merged");
        rows.forEach(TestBenchCommand::assertPositiveNumbers);
        // LoRA r=8 on query and value of 6 layers (2 x 8 x 384 x 2 x 6) and the 2-class head (2 x 384 + 2)
        assertThat(rows.get(1).get(7)).isEqualTo(String.format("%,d", 2 * 8 * 384 * 2 * 6 + 2 * 384 + 2));
        assertThat(lines).contains("note: floor: backward runs down to the embeddings through a gradient on embeddings.position_embeddings.weight (nothing is updated)");
    }

    @Test
    void testProfileWritesAChromeTraceOfEachTrainingRow() throws IOException {
        Path model = scratch.resolve("tiny-llama");
        assertThat(graft("tiny-llama", "--output", model.toString()).exitCode()).isZero();
        Path profiles = scratch.resolve("profiles");

        Result result = graft("bench", "--model", model.toString(), "--batch", "2", "--length", "8", "--iterations", "1", "--warmup", "1", "--rows", "floor,lora",
                "--profile", profiles.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out().lines()).contains("note: profile of floor's measured iterations: " + profiles.resolve("floor.json"),
                "note: profile of lora's measured iterations: " + profiles.resolve("lora.json"));
        // PyTorch's operator trace of one step each: the LoRA row adds its low-rank products (forward and backward) to the floor's
        JsonNode floor = new ObjectMapper().readTree(profiles.resolve("floor.json").toFile());
        JsonNode lora = new ObjectMapper().readTree(profiles.resolve("lora.json").toFile());
        long floorProducts = names(floor).stream().filter("aten::mm"::equals).count();
        long loraProducts = names(lora).stream().filter("aten::mm"::equals).count();
        assertThat(floorProducts).isPositive();
        assertThat(loraProducts).isGreaterThan(floorProducts);
    }

    @Test
    void testMemoryStepsReportTheResidentSetAfterTheWarmUpAndAtTheEnd() {
        Path model = scratch.resolve("tiny-llama");
        assertThat(graft("tiny-llama", "--output", model.toString()).exitCode()).isZero();

        Result result = graft("bench", "--model", model.toString(), "--batch", "2", "--length", "8", "--iterations", "1", "--warmup", "0", "--rows", "base",
                "--memory-steps", "30");

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out().lines()).anySatisfy(line -> assertThat(line).matches(
                "memory: LoRA r=8 q,v, 30 training steps: VmRSS [0-9.]+ MiB after the warm-up \\(step 10\\), [0-9.]+ MiB at the end \\(medians of 2 steps; highest [0-9.]+ MiB\\): "
                        + "growth [+-][0-9]+\\.[0-9]{2}%"));
        Result tooFew = graft("bench", "--model", model.toString(), "--rows", "base", "--memory-steps", "2");
        assertThat(tooFew.exitCode()).isEqualTo(2);
        assertThat(tooFew.err()).contains("--memory-steps must be at least 3 (a third of them warm up), got 2");
    }

    private static List<String> names(JsonNode trace) {
        JsonNode events = trace.isArray() ? trace : trace.get("traceEvents");
        List<String> names = new ArrayList<>();
        events.forEach(event -> names.add(event.path("name").asText()));
        return names;
    }

    @Test
    void testAnUnknownRowIsBadInput() {
        Result result = graft("bench", "--rows", "base,lroa");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).contains("--rows: unknown row 'lroa'; use base, floor, lora, lora-all, ia3, vera, bone, prefix, adapter, prompt, unipelt, full");
    }

    /** The table's data rows, each split into its 11 cells. */
    private static List<List<String>> rows(List<String> lines) {
        int header = lines.indexOf(TABLE_HEADER);
        assertThat(lines.get(header + 1)).isEqualTo("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        List<List<String>> rows = lines.subList(header + 2, lines.size()).stream()
                .takeWhile(line -> line.startsWith("| "))
                .map(line -> Arrays.stream(line.substring(2, line.length() - 2).split(" \\| ")).map(String::trim).toList())
                .toList();
        assertThat(rows).allSatisfy(row -> assertThat(row).hasSize(11));
        return rows;
    }

    /** Median, min, max and tokens/s are positive numbers, min ≤ median ≤ max. */
    private static void assertPositiveNumbers(List<String> row) {
        double median = Double.parseDouble(row.get(2));
        double min = Double.parseDouble(row.get(3));
        double max = Double.parseDouble(row.get(4));
        assertThat(min).as("min ms of %s", row.get(1)).isPositive().isLessThanOrEqualTo(median);
        assertThat(max).as("max ms of %s", row.get(1)).isGreaterThanOrEqualTo(median);
        assertThat(Double.parseDouble(row.get(5))).as("tokens/s of %s", row.get(1)).isPositive();
    }
}
