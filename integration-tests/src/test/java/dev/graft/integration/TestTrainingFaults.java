package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static java.lang.String.format;
import static dev.graft.integration.GraftCli.jsonLines;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.integration.GraftCli.Result;
import dev.graft.runtime.format.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Faults in the middle of training: {@code graft train} as a child process killed with SIGKILL at random points (during
 * steps, checkpoint writes, evaluations, the adapter's writes, pruning) never leaves a corrupt latest checkpoint, and
 * {@code --resume} always finishes the run with the adapter an uninterrupted run writes, bit for bit; a full disk while
 * a checkpoint is written stops the run with one line and keeps the previous adapter and checkpoints intact.
 *
 * <p>The kill test tries {@code -Dgraft.killPoints=N} kill points (12 by default; the random seed is printed and can
 * be repeated with {@code -Dgraft.killSeed=S}):
 * {@code mvn -B -Dai.djl.offline=true verify -pl integration-tests -am -Dtest=TestTrainingFaults -Dsurefire.failIfNoSpecifiedTests=false -Dgraft.killPoints=200}.
 */
final class TestTrainingFaults {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KILL_POINTS = Integer.getInteger("graft.killPoints", 12);
    private static final long KILL_SEED = Long.getLong("graft.killSeed", System.nanoTime());
    private static final List<String> CHECKPOINT_FILES = List.of("adapter/lowrank/adapter_config.json", "adapter/lowrank/adapter_model.safetensors",
            "state/parameters.safetensors", "state/optimizer.safetensors", "state/trainer_state.json");

    @TempDir
    static Path scratch;

    private static Path tinyLlama;
    private static Path examples;

    @BeforeAll
    static void prepare() {
        examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        tinyLlama = scratch.resolve("tiny-llama");
        Result written = graft("tiny-llama", "--output", tinyLlama.toString());
        assertThat(written.exitCode()).as(written.err()).isZero();
    }

    @Test
    void testSigkillAtRandomPointsNeverCorruptsTheLatestCheckpointAndResumeAlwaysFinishesTheRun() throws Exception {
        Path recipe = recipe("kill.yaml", 60, "eval_every: 20, checkpoint_every: 2, keep_checkpoints: 2");
        Path uninterrupted = scratch.resolve("uninterrupted");
        long started = System.nanoTime();
        Result reference = graft("train", recipe.toString(), "--output", uninterrupted.toString());
        long referenceMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertThat(reference.exitCode()).as(reference.err()).isZero();
        byte[] expectedAdapter = Files.readAllBytes(uninterrupted.resolve("adapter/lowrank/adapter_model.safetensors"));
        List<Double> expectedLosses = validationLosses(uninterrupted);

        // each launch lives, after its header line, a random time of up to a third of an in-process run: a few kills per run
        long maxDelayMillis = Math.max(300, referenceMillis / 3);
        Random random = new Random(KILL_SEED);
        String seed = format("kill seed %d (repeat with -Dgraft.killSeed=%d)", KILL_SEED, KILL_SEED);
        int kills = 0;
        int runs = 0;
        List<String> killedAt = new ArrayList<>();
        while (kills < KILL_POINTS) {
            Path run = scratch.resolve("killed-" + runs++);
            boolean finished = false;
            for (int launch = 0; kills < KILL_POINTS && !finished; launch++) {
                List<String> args = launch == 0 ? List.of("train", recipe.toString(), "--output", run.toString()) : List.of("train", "--resume", run.toString());
                Path out = scratch.resolve(format("%s-%d.out", run.getFileName(), launch));
                Path err = scratch.resolve(format("%s-%d.err", run.getFileName(), launch));
                Process child = GraftCli.launcher(scratch.resolve("djl-cache"), args.toArray(new String[0])).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                child.getOutputStream().close();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (child.isAlive() && !Files.readString(err, StandardCharsets.UTF_8).contains(" training examples, ") && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                if (child.isAlive()) {
                    Thread.sleep(random.nextInt((int) maxDelayMillis));
                }
                if (child.isAlive()) {
                    child.destroyForcibly();
                    assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                    kills++;
                    killedAt.add(run.getFileName() + "@" + latestStep(run));
                    assertLatestCheckpointIsWhole(run, seed);
                }
                else {
                    assertThat(child.exitValue()).as("%s: graft %s: %s", seed, String.join(" ", args), Files.readString(err)).isZero();
                    finished = true;
                }
            }
            if (!finished) {
                Result resumed = graft("train", "--resume", run.toString());
                assertThat(resumed.exitCode()).as("%s: %s", seed, resumed.err()).isZero();
            }
            assertThat(Files.readAllBytes(run.resolve("adapter/lowrank/adapter_model.safetensors"))).as("%s: %s's adapter, bit for bit", seed, run).isEqualTo(expectedAdapter);
            assertThat(validationLosses(run)).as("%s: %s's validation losses", seed, run).containsExactlyElementsOf(expectedLosses);
            assertThat(hiddenEntries(run)).as("%s: what the kills left behind is cleaned up", seed).isEmpty();
        }
        System.out.printf("TestTrainingFaults: %d kill points survived over %d runs (%s; run@latest checkpoint step at each kill: %s)%n", kills, runs, seed, killedAt);
        assertThat(kills).isEqualTo(KILL_POINTS);
    }

    @Test
    void testAFullDiskWhileCheckpointingStopsWithOneLineAndKeepsTheAdapterAndCheckpoints() throws Exception {
        Path mountPoint = Files.createDirectories(scratch.resolve("small-disk"));
        assumeTrue(command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint.toString()) == 0,
                "a size-limited tmpfs cannot be mounted here (needs root with CAP_SYS_ADMIN)");
        try {
            Path run = mountPoint.resolve("run");
            Result first = graft("train", recipe("full.yaml", 4, "checkpoint_every: 2, keep_checkpoints: 2, log_every: 100").toString(), "--output", run.toString());
            assertThat(first.exitCode()).as(first.err()).isZero();
            Map<String, byte[]> before = contents(run.resolve("adapter"));
            before.putAll(contents(run.resolve("checkpoints")));
            assertThat(before).containsKeys("lowrank/adapter_model.safetensors", "step-000004/state/optimizer.safetensors");
            long checkpointBytes = before.entrySet().stream().filter(entry -> entry.getKey().startsWith("step-000004/")).mapToLong(entry -> entry.getValue().length).sum();
            // the run is to go on to step 8, with a disk that holds its metrics but not its next checkpoint
            Path recipe = run.resolve("recipe.yaml");
            String resolved = Files.readString(recipe);
            assertThat(resolved).contains("max_steps: 4");
            Files.writeString(recipe, resolved.replace("max_steps: 4", "max_steps: 8"));
            Path filler = mountPoint.resolve("filler");
            long free = fill(filler, 16 * 1024);
            assertThat(checkpointBytes).as("a checkpoint does not fit into the %d bytes left", free).isGreaterThan(2 * free);

            Result full = graft("train", "--resume", run.toString());
            assertThat(full.exitCode()).as(full.out()).isEqualTo(1);
            assertThat(full.err().strip()).hasLineCount(1)
                    .startsWith("graft train: training stopped at step 6: cannot write the checkpoint " + run.resolve("checkpoints/step-000006") + ": No space left on device. "
                            + "Nothing was lost: the previous adapter and the last checkpoint " + run.resolve("checkpoints/step-000004") + " are intact; ")
                    .endsWith("continue with 'graft train --resume " + run + "'");
            Map<String, byte[]> after = contents(run.resolve("adapter"));
            after.putAll(contents(run.resolve("checkpoints")));
            assertThat(after.keySet()).as("no half-written checkpoint, no temporary file").containsExactlyElementsOf(before.keySet());
            before.forEach((name, bytes) -> assertThat(after.get(name)).as(name).isEqualTo(bytes));

            Files.delete(filler);
            Result resumed = graft("train", "--resume", run.toString());
            assertThat(resumed.exitCode()).as(resumed.err()).isZero();
            assertThat(resumed.out()).contains("8 steps, ");
            assertThat(run.resolve("checkpoints/step-000008/state/trainer_state.json")).exists();
        }
        finally {
            // lazily: the JVM may still map a file there until its buffers are collected
            command("umount", "-l", mountPoint.toString());
        }
    }

    private static Path recipe(String name, int maxSteps, String training) throws IOException {
        return Files.writeString(scratch.resolve(name), String.join("\n",
                "model: " + tinyLlama,
                "adapters:",
                "  - {name: lowrank, method: lora, target_modules: [q_proj, v_proj], options: {r: 4, lora_alpha: 8, lora_dropout: 0.1}}",
                "data:",
                "  train: " + examples.resolve("data/uppercase/train.jsonl"),
                "  validation: " + examples.resolve("data/uppercase/validation.jsonl"),
                "  max_length: 48",
                "training: {max_steps: " + maxSteps + ", batch_size: 4, learning_rate: 3.0e-3, warmup_steps: 4, seed: 5, " + training + "}",
                ""));
    }

    /** The latest complete checkpoint of {@code run} has every file, each readable and whole, and its state names its step. */
    private static void assertLatestCheckpointIsWhole(Path run, String seed) throws IOException {
        Path checkpoints = run.resolve("checkpoints");
        if (!Files.isDirectory(checkpoints)) {
            return;
        }
        Path latest;
        try (Stream<Path> children = Files.list(checkpoints)) {
            latest = children.filter(child -> child.getFileName().toString().matches("step-\\d+")).max(Path::compareTo).orElse(null);
        }
        if (latest == null) {
            return;
        }
        for (String file : CHECKPOINT_FILES) {
            Path path = latest.resolve(file);
            assertThat(path).as("%s: %s after a kill", seed, latest).isRegularFile();
            if (file.endsWith(".safetensors")) {
                try (SafetensorsFile tensors = SafetensorsFile.open(path)) {
                    for (String tensor : tensors.names()) {
                        assertThat(tensors.data(tensor).remaining()).as("%s: %s %s", seed, path, tensor).isPositive();
                    }
                }
            }
            else {
                JsonNode json = JSON.readTree(path.toFile());
                if (file.endsWith("trainer_state.json")) {
                    assertThat(json.get("step").asLong()).as("%s: %s", seed, path).isEqualTo(Long.parseLong(latest.getFileName().toString().substring("step-".length())));
                }
            }
        }
    }

    private static String latestStep(Path run) throws IOException {
        Path checkpoints = run.resolve("checkpoints");
        if (!Files.isDirectory(checkpoints)) {
            return "none";
        }
        try (Stream<Path> children = Files.list(checkpoints)) {
            return children.map(child -> child.getFileName().toString()).filter(name -> name.matches("step-\\d+")).max(String::compareTo)
                    .map(name -> String.valueOf(Long.parseLong(name.substring("step-".length())))).orElse("none");
        }
    }

    private static List<Double> validationLosses(Path run) throws IOException {
        return jsonLines(run.resolve("metrics.jsonl")).stream().filter(line -> line.get("split").asText().equals("validation"))
                .map(line -> line.get("loss").asDouble()).collect(Collectors.toList());
    }

    private static List<String> hiddenEntries(Path run) throws IOException {
        List<String> hidden = new ArrayList<>();
        for (Path folder : List.of(run, run.resolve("checkpoints"))) {
            try (Stream<Path> children = Files.list(folder)) {
                children.map(child -> child.getFileName().toString()).filter(name -> name.startsWith(".")).forEach(hidden::add);
            }
        }
        return hidden;
    }

    /** Every file under {@code folder} by its relative path, with its bytes, hidden ones included. */
    private static Map<String, byte[]> contents(Path folder) throws IOException {
        Map<String, byte[]> contents = new TreeMap<>();
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path file : files.filter(Files::isRegularFile).collect(Collectors.toList())) {
                contents.put(folder.relativize(file).toString(), Files.readAllBytes(file));
            }
        }
        return contents;
    }

    /** Fills the file system of {@code filler} up, then frees {@code keep} bytes; returns the bytes left free. */
    private static long fill(Path filler, long keep) throws IOException {
        byte[] block = new byte[64 * 1024];
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(block);
            }
        }
        catch (IOException e) {
            assertThat(e.getMessage()).contains("No space left on device");
        }
        try (FileChannel channel = FileChannel.open(filler, StandardOpenOption.WRITE)) {
            channel.truncate(Math.max(0, channel.size() - keep));
        }
        return Files.getFileStore(filler).getUsableSpace();
    }

    private static int command(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return process.waitFor(60, TimeUnit.SECONDS) ? process.exitValue() : -1;
    }
}
