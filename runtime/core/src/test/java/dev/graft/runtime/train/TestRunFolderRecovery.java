package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a run killed between two steps of a write leaves, and how {@link RunFolder#recoverInterruptedWrites} repairs it
 * before a resume: each state a kill can leave, made by hand.
 */
final class TestRunFolderRecovery {
    @TempDir
    Path root;

    @Test
    void testAFolderMovedAsideWhileItsReplacementWasNotInPlaceComesBack() throws IOException {
        RunFolder folder = new RunFolder(root);
        Files.createDirectories(root.resolve(".adapter.old/lowrank"));
        Files.writeString(root.resolve(".adapter.old/lowrank/adapter_config.json"), "{\"previous\": true}");
        Files.createDirectories(root.resolve(".adapter.tmp/lowrank"));
        Files.writeString(root.resolve(".adapter.tmp/lowrank/adapter_config.json"), "{\"half\": ");

        assertThat(folder.recoverInterruptedWrites()).hasSize(2);
        assertThat(root.resolve("adapter/lowrank/adapter_config.json")).hasContent("{\"previous\": true}");
        assertThat(names(root)).containsExactly("adapter");
    }

    @Test
    void testAFolderMovedAsideAfterItsReplacementWasInPlaceIsDeleted() throws IOException {
        RunFolder folder = new RunFolder(root);
        Files.createDirectories(root.resolve("adapter"));
        Files.writeString(root.resolve("adapter/new"), "new");
        Files.createDirectories(root.resolve(".adapter.old"));
        Files.writeString(root.resolve(".adapter.old/old"), "old");

        folder.recoverInterruptedWrites();
        assertThat(names(root)).containsExactly("adapter");
        assertThat(root.resolve("adapter/new")).hasContent("new");
    }

    @Test
    void testHalfWrittenAndHalfDeletedCheckpointsAndTemporaryFilesGo() throws IOException {
        RunFolder folder = new RunFolder(root);
        Path checkpoints = Files.createDirectories(root.resolve(RunFolder.CHECKPOINTS));
        Files.createDirectories(checkpoints.resolve("step-000004/state"));
        Files.createDirectories(checkpoints.resolve(".step-000006.tmp/state"));
        Files.createDirectories(checkpoints.resolve(".step-000002.deleted/adapter"));
        Files.writeString(root.resolve(".metrics.jsonl12345.tmp"), "{");
        Files.writeString(root.resolve(RunFolder.METRICS), "{}\n");

        folder.recoverInterruptedWrites();
        assertThat(names(checkpoints)).containsExactly("step-000004");
        assertThat(names(root)).containsExactly("checkpoints", "metrics.jsonl");
        assertThat(folder.latestCheckpoint()).contains(checkpoints.resolve("step-000004"));
    }

    @Test
    void testPruningLeavesOnlyTheNewestCheckpointsAndNoHiddenFolder() throws IOException {
        RunFolder folder = new RunFolder(root);
        for (long step : new long[] {2, 4, 6, 8}) {
            RunFolder.writeFolder(folder.checkpoint(step), temporary -> write(temporary.resolve("state.json"), "step " + step));
        }
        folder.pruneCheckpoints(2);
        assertThat(names(root.resolve(RunFolder.CHECKPOINTS))).containsExactly("step-000006", "step-000008");
        assertThat(folder.checkpoint(8).resolve("state.json")).hasContent("step 8");
        assertThat(folder.recoverInterruptedWrites()).isEmpty();
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> names(Path folder) throws IOException {
        try (Stream<Path> children = Files.list(folder)) {
            return children.map(child -> child.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }
}
