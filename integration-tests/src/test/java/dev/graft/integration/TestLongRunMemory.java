package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.integration.GraftCli.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A long run holds native memory flat: {@code graft train} on a tiny Llama as a child process (its Java heap fixed and
 * touched up front, so what grows is native memory), evaluating and checkpointing every 100 steps, its
 * resident set ({@code VmRSS} of {@code /proc/PID/status}) sampled while it trains for thousands of steps, grows by
 * less than 2% from the end of the warm-up (the first third of the steps, and at least past the first evaluation
 * and checkpoint, whose buffers stay) to the end. Bounded to 2,000 steps or 180
 * seconds (about 40 on an idle machine), whichever comes first; {@code -Dgraft.longRunSteps=20000 -Dgraft.longRunSeconds=900} runs longer.
 */
final class TestLongRunMemory {
    private static final int STEPS = Integer.getInteger("graft.longRunSteps", 2000);
    private static final int SECONDS = Integer.getInteger("graft.longRunSeconds", 180);
    private static final long SAMPLE_MILLIS = 200;

    @TempDir
    static Path scratch;

    /** The resident set at a moment of the run, and the last step the run had logged. */
    private record Sample(long step, long kilobytes) {}

    @Test
    void testThousandsOfStepsHoldTheResidentSetFlat() throws Exception {
        Path tinyLlama = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", tinyLlama.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
        Path examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        Path recipe = Files.writeString(scratch.resolve("long.yaml"), String.join("\n",
                "model: " + tinyLlama,
                "adapters:",
                "  - {name: lowrank, method: lora, target_modules: [q_proj, v_proj], options: {r: 4, lora_alpha: 8, lora_dropout: 0.1}}",
                "data: {train: " + examples.resolve("data/uppercase/train.jsonl") + ", validation: " + examples.resolve("data/uppercase/validation.jsonl")
                        + ", max_length: 48}",
                "training: {max_steps: 1000000, batch_size: 4, learning_rate: 1.0e-3, log_every: 20, eval_every: 100, checkpoint_every: 100, keep_checkpoints: 1}",
                ""));
        Path run = scratch.resolve("run");
        Path metrics = run.resolve("metrics.jsonl");
        Path err = scratch.resolve("long.err");
        ProcessBuilder builder = GraftCli.launcher(scratch.resolve("djl-cache"), "train", recipe.toString(), "--output", run.toString())
                .redirectOutput(scratch.resolve("long.out").toFile()).redirectError(err.toFile());
        builder.environment().put("GRAFT_OPTS", "-Xms256m -Xmx256m -XX:+AlwaysPreTouch");
        Process child = builder.start();
        child.getOutputStream().close();
        List<Sample> samples = new ArrayList<>();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (child.isAlive() && !Files.readString(err, StandardCharsets.UTF_8).contains(" training examples, ") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(child.isAlive()).as("the run started; its error output: %s", Files.readString(err)).isTrue();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
            long step = 0;
            while (System.nanoTime() < end && step < STEPS && child.isAlive()) {
                step = lastStep(metrics);
                samples.add(new Sample(step, residentKilobytes(child.pid())));
                Thread.sleep(SAMPLE_MILLIS);
            }
            assertThat(child.isAlive()).as("the run was still training; its error output: %s", Files.readString(err)).isTrue();
        }
        finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }
        long steps = samples.get(samples.size() - 1).step();
        long warmUp = Math.max(steps / 3, 150);
        List<Long> afterWarmUp = samples.stream().filter(sample -> sample.step() >= warmUp).map(Sample::kilobytes).collect(Collectors.toList());
        long warm = median(afterWarmUp.subList(0, Math.min(5, afterWarmUp.size())));
        long atEnd = median(afterWarmUp.subList(Math.max(0, afterWarmUp.size() - 5), afterWarmUp.size()));
        long highest = afterWarmUp.stream().mapToLong(Long::longValue).max().orElseThrow();
        double growth = (atEnd - warm) / (double) warm;
        System.out.printf("TestLongRunMemory: %d steps; VmRSS %d kB after warm-up (step %d), %d kB at the end (highest %d kB): growth %.2f%%%n",
                steps, warm, warmUp, atEnd, highest, 100 * growth);
        // 2,000 steps take about 40 s on an idle machine; a loaded one may stop at the time limit first, but at least
        // three evaluations and checkpoints after the warm-up
        assertThat(steps).as("a long run (stopped after %d s)", SECONDS).isGreaterThanOrEqualTo(450);
        assertThat(growth).as("resident set growth from %d kB after warm-up to %d kB at the end", warm, atEnd).isLessThan(0.02);
    }

    private static long lastStep(Path metrics) throws IOException {
        if (!Files.exists(metrics)) {
            return 0;
        }
        long step = 0;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            int at = line.indexOf("\"step\":");
            if (at >= 0) {
                int from = at + "\"step\":".length();
                int to = from;
                while (to < line.length() && Character.isDigit(line.charAt(to))) {
                    to++;
                }
                if (to > from) {
                    step = Math.max(step, Long.parseLong(line.substring(from, to)));
                }
            }
        }
        return step;
    }

    private static long residentKilobytes(long pid) throws IOException {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring("VmRSS:".length()).replace("kB", "").strip());
                }
            }
        }
        catch (NoSuchFileException e) {
            throw new AssertionError("the run ended early", e);
        }
        throw new AssertionError("no VmRSS in /proc/" + pid + "/status");
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(Long::compare);
        return sorted.get(sorted.size() / 2);
    }
}
