package dev.graft.plugin.adapter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdapterHub's {@code bert} initialization (not a no-op), with explicit placement, activation, reduction, dropout and
 * {@code leave_out} overriding the preset, passes the conformance kit.
 */
final class TestBottleneckBertInitConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BottleneckAdapterMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of(
                "init_weights", "bert",
                "mh_adapter", true,
                "non_linearity", "gelu",
                "reduction_factor", 8,
                "scaling", 0.5,
                "dropout", 0.1,
                "leave_out", List.of(0));
    }

    @Override
    protected boolean identityAtInit() {
        return false;
    }

    @Test
    void testExplicitOptionsOverrideThePreset() {
        PeftModel model = newModel();
        float[] base = logits(model);
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly("model.layers.1.self_attn", "model.layers.1.mlp");
        // hidden 64, reduction 8: d = 8, so 2·64·8 + 8 + 64 = 1,096 per sublayer.
        assertThat(model.trainableParameterCount()).isEqualTo(2 * 1_096L);
        float[] adapted = logits(model);
        double largest = 0;
        for (int index = 0; index < base.length; index++) {
            largest = Math.max(largest, Math.abs(adapted[index] - base[index]));
        }
        assertThat(largest).as("bert init starts as a small perturbation, not a no-op").isGreaterThan(1e-6).isLessThan(0.1);
    }

    @Test
    void testAdapterStoreRoundTripKeepsTheOverridesAndTheKeys(@TempDir Path directory) {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] expected = logits(model);

        AdapterStore.save(model, "default", directory, "tiny-llama");

        assertThat(AdapterStore.configOf(model, adapter, "tiny-llama")).containsEntry("peft_type", "BOTTLENECK").containsEntry("config", "pfeiffer")
                .containsEntry("mh_adapter", true).containsEntry("reduction_factor", 8.0).containsEntry("leave_out", List.of(0))
                .doesNotContainKey("output_adapter");
        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).containsExactlyInAnyOrder(
                    "base_model.model.model.layers.1.self_attn.adapter_down.weight", "base_model.model.model.layers.1.self_attn.adapter_down.bias",
                    "base_model.model.model.layers.1.self_attn.adapter_up.weight", "base_model.model.model.layers.1.self_attn.adapter_up.bias",
                    "base_model.model.model.layers.1.mlp.adapter_down.weight", "base_model.model.model.layers.1.mlp.adapter_down.bias",
                    "base_model.model.model.layers.1.mlp.adapter_up.weight", "base_model.model.model.layers.1.mlp.adapter_up.bias");
            assertThat(weights.info("base_model.model.model.layers.1.mlp.adapter_down.weight").shape()).containsExactly(8L, 64L);
        }
        PeftModel reloaded = newModel();
        Adapter loaded = AdapterStore.load(reloaded, directory, "default", peftType -> "BOTTLENECK".equals(peftType) ? new BottleneckAdapterMethod() : null);
        assertThat(loaded.sites()).extracting(Site::name).containsExactly("model.layers.1.self_attn", "model.layers.1.mlp");
        assertClose(logits(reloaded), expected, 0, "logits after saving and loading through adapter_config.json and adapter_model.safetensors");
    }
}
