package dev.graft.runtime.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.error.UnsafePathException;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Names that become paths in multi-adapter folders cannot lead outside the folder. */
final class TestAdapterFolderNames {
    private static final Function<String, PeftMethod> METHODS = peftType -> "SHIFT".equals(peftType) ? new ShiftMethod() : null;

    @TempDir
    Path root;

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void testAnAdapterNameThatIsAPathIsRefusedBeforeAnythingIsWritten() {
        PeftModel model = model();
        for (String name : List.of("../x", "/tmp/x", "a/b", "..", "")) {
            assertThatThrownBy(() -> model.addAdapter(new AdapterSpec(name, Map.of(), TargetRules.fromConfig(Map.of()), Composition.SUM), new ShiftMethod()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("adapter name '%s' is invalid: use letters, digits, '_' and '-', starting with a letter or digit", name);
        }
        assertThat(root).isEmptyDirectory();
    }

    @Test
    void testASubFolderLinkedFromOutsideIsRefusedOnLoad() throws IOException {
        PeftModel model = model();
        model.addAdapter(new AdapterSpec("kept", Map.of(), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))), Composition.SUM), new ShiftMethod());
        Path adapters = Files.createDirectories(root.resolve("adapters"));
        AdapterStore.save(model, "kept", adapters.resolve("kept"), "tiny-llama");
        Path outside = root.resolve("outside");
        AdapterStore.save(model, "kept", outside, "tiny-llama");
        Files.createSymbolicLink(adapters.resolve("linked"), outside);

        String expected = String.format("adapter folder 'linked' in folder %s is a symbolic link to %s, outside the folder; replace the link by a copy inside %s",
                adapters, outside.toRealPath(), adapters);
        assertThatThrownBy(() -> AdapterStore.loadAll(model(), adapters, METHODS)).isInstanceOf(UnsafePathException.class).hasMessage(expected);
        assertThatThrownBy(() -> TaskAdapters.adapterFolders(adapters)).isInstanceOf(UnsafePathException.class).hasMessage(expected);

        Files.delete(adapters.resolve("linked"));
        Files.createSymbolicLink(adapters.resolve("alias"), adapters.resolve("kept"));
        assertThat(TaskAdapters.adapterFolders(adapters)).containsExactly(adapters.resolve("alias"), adapters.resolve("kept"));
    }

    private PeftModel model() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 3), modelManager, null));
    }
}
