package dev.graft.integration;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.loader.Models;
import dev.graft.runtime.loader.WeightPrecision;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.recipe.Recipe;
import dev.graft.runtime.recipe.RecipeAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code unipelt} preset on the real all-MiniLM-L6-v2 against AdapterHub's {@code UniPELTConfig} on a BERT of the
 * same shape, term by term, from the formulas of the reference notes (peft-anchors.md 1.2, 3.2 to 3.4).
 */
final class TestUniPeltPreset {
    // all-MiniLM-L6-v2: a BERT of 6 layers, hidden 384, 12 heads (head width 32), intermediate 1536
    private static final int LAYERS = 6;
    private static final int HIDDEN = 384;

    @TempDir
    static Path scratch;

    @Test
    void testThePresetsParameterCountMatchesAdapterHubsUniPeltTermByTerm() throws IOException {
        // AdapterHub UniPELTConfig = ConfigUnion(PrefixTuning(prefix_length=10), SeqBn(reduction_factor=16), LoRA(r=8)), all gated.
        // LoRA r=8 on query and value of each layer: r·(in + out) per target, 12 targets
        long adapterHubLora = 2L * LAYERS * 8 * (HIDDEN + HIDDEN);
        assertThat(adapterHubLora).isEqualTo(73_728);
        // Pfeiffer bottleneck after each feed-forward sublayer, width 384 / 16 = 24: down (384·24 + 24) + up (24·384 + 384)
        long bottleneckWidth = HIDDEN / 16;
        long adapterHubBottleneck = LAYERS * ((HIDDEN * bottleneckWidth + bottleneckWidth) + (bottleneckWidth * HIDDEN + HIDDEN));
        assertThat(adapterHubBottleneck).isEqualTo(113_040);
        // Prefix through AdapterHub's default MLP (bottleneck_size 512): Emb(10, 384) + Lin(384, 512) + Lin(512, 6·2·384)
        long adapterHubPrefix = 10L * HIDDEN + (HIDDEN * 512L + 512) + (512L * LAYERS * 2 * HIDDEN + LAYERS * 2 * HIDDEN);
        assertThat(adapterHubPrefix).isEqualTo(2_564_864);
        // Gates, each Linear(hidden, 1) = 385: AdapterHub gates per layer and component (one per LoRA module, so query and
        // value each; one per bottleneck; one shared prefix gate per attention layer): 12 + 6 + 6 = 24 gates
        long adapterHubGates = (2L * LAYERS + LAYERS + LAYERS) * (HIDDEN + 1);
        assertThat(adapterHubGates).isEqualTo(9_240);
        long adapterHubTotal = adapterHubLora + adapterHubBottleneck + adapterHubPrefix + adapterHubGates;
        assertThat(adapterHubTotal).isEqualTo(2_760_872);

        Path recipe = Files.writeString(scratch.resolve("unipelt.yaml"), "model: minilm\nadapters:\n  - preset: unipelt\n");
        Map<String, Long> preset = counts(Recipe.read(recipe));
        // Graft: one gate per (adapter, site): 12 LoRA sites + 6 feed-forward sites + 6 attention sites = 24, the same gates
        assertThat(preset).containsExactly(Map.entry("unipelt_prefix", 2_564_864L), Map.entry("unipelt_adapter", 113_040L),
                Map.entry("unipelt_lora", 73_728L), Map.entry("gates", 9_240L), Map.entry("total", 2_760_872L));
        assertThat(preset.get("unipelt_prefix") - adapterHubPrefix).as("prefix difference").isZero();
        assertThat(preset.get("unipelt_adapter") - adapterHubBottleneck).as("bottleneck difference").isZero();
        assertThat(preset.get("unipelt_lora") - adapterHubLora).as("LoRA difference").isZero();
        assertThat(preset.get("gates") - adapterHubGates).as("gate difference").isZero();
        assertThat(preset.get("total")).isEqualTo(adapterHubTotal);

        // The flat prefix (prefix_projection: false, as the quickstart): 10·6·2·384 = 46,080, 2,518,784 fewer than AdapterHub's MLP
        Path flat = Files.writeString(scratch.resolve("flat.yaml"), "model: minilm\nadapters:\n  - preset: unipelt\n    prefix: {prefix_projection: false}\n");
        Map<String, Long> flatCounts = counts(Recipe.read(flat));
        long flatPrefix = 10L * LAYERS * 2 * HIDDEN;
        assertThat(flatCounts.get("unipelt_prefix")).isEqualTo(flatPrefix).isEqualTo(46_080);
        assertThat(adapterHubPrefix - flatCounts.get("unipelt_prefix")).as("prefix difference, flat").isEqualTo(2_518_784);
        assertThat(flatCounts.get("total")).isEqualTo(242_088);
    }

    /** Per adapter its trainable parameters without gates, then all gates and the model's trainable total. */
    private static Map<String, Long> counts(Recipe recipe) {
        MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins()));
        Map<String, Long> counts = new LinkedHashMap<>();
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = Models.load(recipe.model(), manager, WeightPrecision.FLOAT32)) {
            PeftModel model = new PeftModel(loaded.model());
            for (RecipeAdapter adapter : recipe.adapters()) {
                model.addAdapter(adapter.toSpec(), registry.requireMethod(adapter.method()).method());
            }
            long gates = 0;
            for (Adapter adapter : model.adapters().values()) {
                Map<Parameter, Boolean> gateParameters = new IdentityHashMap<>();
                for (Attachment attachment : adapter.attachments().values()) {
                    attachment.gate().ifPresent(gate -> gate.getParameters().values().forEach(parameter -> gateParameters.put(parameter, true)));
                }
                Map<Parameter, Boolean> seen = new IdentityHashMap<>();
                long own = 0;
                for (Parameter parameter : adapter.trainableParameters()) {
                    if (seen.put(parameter, true) == null) {
                        if (gateParameters.containsKey(parameter)) {
                            gates += parameter.getArray().size();
                        }
                        else {
                            own += parameter.getArray().size();
                        }
                    }
                }
                counts.put(adapter.name(), own);
            }
            counts.put("gates", gates);
            counts.put("total", model.trainableParameterCount());
        }
        return counts;
    }

    private static Path plugins() {
        return Path.of(System.getProperty("graft.distribution", "../runtime/distribution/target/graft")).toAbsolutePath().normalize().resolve("plugins");
    }
}
