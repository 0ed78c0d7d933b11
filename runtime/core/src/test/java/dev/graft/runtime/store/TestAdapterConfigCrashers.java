package dev.graft.runtime.store;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.PeftModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The adapter_config.json inputs fuzzing found (TestAdapterConfigFuzzing): each is one clear StoreException now. */
final class TestAdapterConfigCrashers {
    @TempDir
    Path directory;

    /** Was a NullPointerException: Jackson reads the JSON literal null as a null map. */
    @Test
    void testAConfigThatIsJsonNullIsRefused() throws IOException {
        Path config = Files.writeString(directory.resolve(AdapterStore.CONFIG_FILE), "null");
        assertThatThrownBy(() -> AdapterStore.config(directory))
                .isInstanceOf(StoreException.class)
                .hasMessage("%s is not a JSON object: it holds null; an adapter config is an object such as {\"peft_type\": \"LORA\", ...}", config);
    }

    /** Was a NullPointerException from List.of(...).containsAll on a list holding null. */
    @Test
    void testANullInModulesToSaveIsRefused() throws IOException {
        Path config = Files.writeString(directory.resolve(AdapterStore.CONFIG_FILE), "{\"peft_type\": \"SHIFT\", \"modules_to_save\": [null], \"task_type\": \"SEQ_CLS\"}");
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 3), manager, null));
            assertThatThrownBy(() -> AdapterStore.load(model, directory, "default", peftType -> new ShiftMethod()))
                    .isInstanceOf(StoreException.class)
                    .hasMessageStartingWith(config + ": modules_to_save must be a list of module names");
            assertThatThrownBy(() -> AdapterStore.modulesToSave(directory, manager))
                    .isInstanceOf(StoreException.class)
                    .hasMessageStartingWith(config + ": modules_to_save must be a list of module names");
        }
    }
}
