package dev.graft.plugin.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterState;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prefix tuning through the projection MLP passes the conformance kit; its checkpoint is still the flat prefix. */
final class TestPrefixProjectionConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new PrefixTuningMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("num_virtual_tokens", 5, "prefix_projection", true, "encoder_hidden_size", 16);
    }

    @Override
    protected boolean identityAtInit() {
        return false;
    }

    @Test
    void testParameterCountOnTheTinyLlama() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);

        // Embedding 5·32, Linear(32, 16) 32·16 + 16, Linear(16, 2·2·32) 16·128 + 128.
        assertThat(model.trainableParameterCount()).isEqualTo(160L + 528L + 2_176L);
    }

    @Test
    void testFlatCheckpointLoadsIntoAProjectionAdapterForInference() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] expected = logits(model);
        Map<String, NDArray> saved = AdapterState.collect(adapter, model.base().manager());
        assertThat(saved.keySet()).containsExactly("prompt_embeddings");

        PeftModel reloaded = newModel();
        Adapter fresh = attach(reloaded, "default", Composition.SUM);
        AdapterState.apply(fresh, saved);

        assertClose(logits(reloaded), expected, 0, "logits of the loaded flat prefix");
        assertThat(reloaded.trainableParameterCount()).as("the unused projection MLP is frozen").isZero();
        float[] resaved = AdapterState.collect(fresh, reloaded.base().manager()).get("prompt_embeddings").toFloatArray();
        assertThat(resaved).containsExactly(saved.get("prompt_embeddings").toFloatArray());
    }

    @Test
    void testAdapterStoreWritesPeftsConfigAndFlatPrefixAndLoadsThem(@TempDir Path directory) {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        perturb(adapter);
        float[] expected = logits(model);

        AdapterStore.save(model, "default", directory, "tiny-llama");

        Map<String, Object> config = AdapterStore.configOf(model, adapter, "tiny-llama");
        assertThat(config).containsEntry("peft_type", "PREFIX_TUNING").containsEntry("num_virtual_tokens", 5)
                .containsEntry("prefix_projection", true).containsEntry("encoder_hidden_size", 16)
                .as("PEFT's PrefixTuningConfig has no targeting fields; PEFT 0.14 warns about unexpected ones")
                .doesNotContainKeys("target_modules", "exclude_modules", "layers_to_transform", "layers_pattern");
        try (SafetensorsFile weights = SafetensorsFile.open(directory.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(weights.names()).containsExactly("prompt_embeddings");
            assertThat(weights.info("prompt_embeddings").shape()).containsExactly(5L, 128L);
        }
        PeftModel reloaded = newModel();
        AdapterStore.load(reloaded, directory, "default", peftType -> "PREFIX_TUNING".equals(peftType) ? new PrefixTuningMethod() : null);
        assertClose(logits(reloaded), expected, 0, "logits after saving and loading through adapter_config.json and adapter_model.safetensors");
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
