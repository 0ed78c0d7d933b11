package dev.graft.plugin.prefix;

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

/** Prefix tuning with 5 virtual tokens passes the conformance kit on the runtime's tiny Llama. */
final class TestPrefixTuningConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new PrefixTuningMethod();
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
        missing.put("prefix_projection", true);
        return Map.of(
                "no virtual tokens", Map.of("num_virtual_tokens", 0),
                "num_virtual_tokens missing", missing,
                "fractional virtual tokens", Map.of("num_virtual_tokens", 2.5),
                "encoder hidden size 0", Map.of("num_virtual_tokens", 5, "prefix_projection", true, "encoder_hidden_size", 0),
                "unknown init", Map.of("num_virtual_tokens", 5, "init_weights", "one"),
                "token_dim of another model (the hidden size, ignoring grouped-query attention)", Map.of("num_virtual_tokens", 5, "token_dim", 64),
                "num_layers of another model", Map.of("num_virtual_tokens", 5, "num_layers", 32));
    }

    @Test
    void testParameterCountAndCheckpointOnTheTinyLlama() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly("model.layers.0.self_attn", "model.layers.1.self_attn");
        // n·L·2·d with d = 2 key/value heads · 16 = 32: 5·2·2·32.
        assertThat(model.trainableParameterCount()).isEqualTo(640L);
        Map<String, NDArray> state = AdapterState.collect(adapter, model.base().manager());
        assertThat(state.keySet()).containsExactly("prompt_embeddings");
        assertThat(state.get("prompt_embeddings").getShape().getShape()).containsExactly(5, 128);
    }

    /** Nothing per attention layer. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of();
    }

    /** PEFT's single {@code prompt_embeddings (n, L·2·d)} with d = key/value heads · head dim. */
    @Override
    protected Map<String, Shape> expectedSharedTensors(ModelContext model) {
        return Map.of("prompt_embeddings", new Shape(5, (long) model.numLayers() * 2 * model.numKeyValueHeads() * model.headDim()));
    }
}
