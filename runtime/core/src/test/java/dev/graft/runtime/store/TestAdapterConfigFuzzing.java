package dev.graft.runtime.store;

import ai.djl.ndarray.NDManager;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.error.GraftException;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes {@code adapter_config.json}: any bytes, beside a valid {@code adapter_model.safetensors}, either load as an
 * adapter onto a tiny Llama or fail with what {@link AdapterStore#load} documents (a {@link GraftException} such as
 * {@link StoreException} or a targeting error, or an {@link IllegalArgumentException} naming a tensor key or an option);
 * no other exception (no {@link ClassCastException} from a field of the wrong JSON type), no hang, and nothing stays
 * attached after a failure. Seeds and crashers live in {@code TestAdapterConfigFuzzingInputs/load}; {@code mvn verify}
 * replays them and then fuzzes for {@code graft.fuzz.duration}.
 */
final class TestAdapterConfigFuzzing {
    private static final Function<String, PeftMethod> METHODS = peftType -> "SHIFT".equals(peftType) ? new ShiftMethod() : null;
    private static final NDManager MANAGER = NDManager.newBaseManager();
    private static final PeftModel MODEL = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), MANAGER, 3), MANAGER, null));
    private static final Path FOLDER = savedAdapter();

    @AfterAll
    static void closeManager() {
        MANAGER.close();
    }

    @FuzzTest(maxDuration = "10s")
    @Timeout(10)
    void load(byte[] bytes) throws IOException {
        Files.write(FOLDER.resolve(AdapterStore.CONFIG_FILE), bytes);
        try {
            AdapterStore.load(MODEL, FOLDER, "fuzzed", METHODS);
            MODEL.deleteAdapter("fuzzed");
        }
        catch (GraftException | IllegalArgumentException expected) {
            if (MODEL.adapters().containsKey("fuzzed")) {
                throw new AssertionError("a failed load left the adapter attached", expected);
            }
        }
    }

    /** A folder with a SHIFT adapter on q_proj saved in it: the weights the fuzzed configs load. */
    private static Path savedAdapter() {
        try {
            Path folder = Files.createTempDirectory("graft-fuzz");
            MODEL.addAdapter(new AdapterSpec("saved", Map.of("scale", 2.0), TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"))), Composition.SUM),
                    new ShiftMethod());
            AdapterStore.save(MODEL, "saved", folder, "tiny-llama");
            MODEL.deleteAdapter("saved");
            return folder;
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
