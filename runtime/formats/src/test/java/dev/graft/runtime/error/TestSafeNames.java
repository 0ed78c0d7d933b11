package dev.graft.runtime.error;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class TestSafeNames {
    @TempDir
    Path root;

    @Test
    void testPlainNamesBecomeChildren() throws IOException {
        Path folder = Files.createDirectories(root.resolve("adapters"));
        assertThat(SafeNames.child(folder, "default", "adapter name")).isEqualTo(folder.resolve("default"));
        assertThat(SafeNames.child(folder, "model-00001-of-00002.safetensors", "shard")).isEqualTo(folder.resolve("model-00001-of-00002.safetensors"));
        assertThat(SafeNames.child(folder, "..hidden..", "adapter name")).isEqualTo(folder.resolve("..hidden.."));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "..", ".", "", "a/b", "a\\b", "/etc", "/", "\\\\server\\share", "C:x", "x/../../y", "nul\0byte"})
    void testNamesThatLeaveTheFolderAreRefusedInOneLine(String name) throws IOException {
        Path folder = Files.createDirectories(root.resolve("adapters"));
        assertThatThrownBy(() -> SafeNames.child(folder, name, "adapter name"))
                .isInstanceOf(UnsafePathException.class)
                .satisfies(error -> assertThat(((GraftException) error).isBadInput()).isTrue())
                .hasMessageStartingWith("adapter name '")
                .hasMessageContaining("cannot be used in folder " + folder)
                .hasMessageContaining("use a single file or folder name such as 'default'")
                .hasMessageNotContaining("\n")
                .hasMessageNotContaining("\0");
    }

    @Test
    void testASymbolicLinkOutsideTheFolderIsRefused() throws IOException {
        Path folder = Files.createDirectories(root.resolve("adapters"));
        Path outside = Files.createDirectories(root.resolve("elsewhere"));
        Files.createSymbolicLink(folder.resolve("escape"), outside);
        Files.createSymbolicLink(folder.resolve("self"), folder);
        assertThatThrownBy(() -> SafeNames.child(folder, "escape", "adapter folder"))
                .isInstanceOf(UnsafePathException.class)
                .hasMessage("adapter folder 'escape' in folder %s is a symbolic link to %s, outside the folder; replace the link by a copy inside %s",
                        folder, outside.toRealPath(), folder);
        assertThatThrownBy(() -> SafeNames.child(folder, "self", "adapter folder"))
                .isInstanceOf(UnsafePathException.class)
                .hasMessageContaining("is a symbolic link to " + folder.toRealPath() + ", outside the folder");
    }

    @Test
    void testASymbolicLinkInsideTheFolderIsKeptAndADanglingOneIsRefused() throws IOException {
        Path folder = Files.createDirectories(root.resolve("adapters"));
        Files.createDirectories(folder.resolve("real"));
        Files.createSymbolicLink(folder.resolve("alias"), folder.resolve("real"));
        Files.createSymbolicLink(folder.resolve("dangling"), root.resolve("missing"));
        assertThat(SafeNames.child(folder, "alias", "adapter folder")).isEqualTo(folder.resolve("alias"));
        assertThatThrownBy(() -> SafeNames.child(folder, "dangling", "adapter folder"))
                .isInstanceOf(UnsafePathException.class)
                .hasMessage("adapter folder 'dangling' in folder %s is a symbolic link that cannot be followed (no such file or folder); replace it by the file or folder itself",
                        folder);
    }

    @Test
    void testASymbolicLinkedFolderStillHoldsItsOwnChildren() throws IOException {
        Path real = Files.createDirectories(root.resolve("real-runs"));
        Path linked = Files.createSymbolicLink(root.resolve("runs"), real);
        Files.createDirectories(real.resolve("default"));
        assertThat(SafeNames.child(linked, "default", "adapter name")).isEqualTo(linked.resolve("default"));
    }
}
