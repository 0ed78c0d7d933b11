package dev.graft.plugin.prompt;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterState;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Prompt tuning with 5 virtual tokens passes the conformance kit on the runtime's tiny Llama (which has no tokenizer). */
final class TestPromptTuningConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new PromptTuningMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("num_virtual_tokens", 5);
    }

    @Override
    protected boolean identityAtInit() {
        return false;
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        Map<String, Object> missing = new HashMap<>();
        missing.put("prompt_tuning_init", "RANDOM");
        return Map.of(
                "no virtual tokens", Map.of("num_virtual_tokens", 0),
                "num_virtual_tokens missing", missing,
                "TEXT without a text", Map.of("num_virtual_tokens", 5, "prompt_tuning_init", "TEXT"),
                "TEXT without a tokenizer", Map.of("num_virtual_tokens", 5, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "hello"),
                "unknown init", Map.of("num_virtual_tokens", 5, "prompt_tuning_init", "RANDOM_UNIFORM"),
                "token_dim of another model", Map.of("num_virtual_tokens", 5, "token_dim", 4096),
                "an encoder-decoder's two submodules", Map.of("num_virtual_tokens", 5, "num_transformer_submodules", 2));
    }

    @Test
    void testParameterCountCheckpointAndLogitShapeOnTheTinyLlama() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly("model.embed_tokens");
        // n·hidden: 5·64.
        assertThat(model.trainableParameterCount()).isEqualTo(320L);
        Map<String, NDArray> state = AdapterState.collect(adapter, model.base().manager());
        assertThat(state.keySet()).containsExactly("prompt_embeddings");
        assertThat(state.get("prompt_embeddings").getShape().getShape()).containsExactly(5, 64);
        // Two sequences of 6 real tokens: the 5 virtual positions are not returned.
        assertThat(logits(model)).hasSize(2 * 6 * 128);
    }

    /** Nothing at the embedding site. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of();
    }

    /** PEFT's single {@code prompt_embeddings (n, hidden)}. */
    @Override
    protected Map<String, Shape> expectedSharedTensors(ModelContext model) {
        return Map.of("prompt_embeddings", new Shape(5, model.hiddenSize()));
    }
}
