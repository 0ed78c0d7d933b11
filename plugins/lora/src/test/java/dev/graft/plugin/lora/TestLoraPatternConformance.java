package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * LoRA with per-site ranks and alphas, rsLoRA, Gaussian init and dropout passes the conformance kit, and the rank
 * and alpha patterns reach the runtime's sites and counts.
 */
final class TestLoraPatternConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new LoraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of(
                "r", 2,
                "lora_alpha", 4,
                "use_rslora", true,
                "init_lora_weights", "gaussian",
                "lora_dropout", 0.1,
                "rank_pattern", Map.of("layers\\.1\\.self_attn\\.q_proj", 6, "down_proj", 3),
                "alpha_pattern", Map.of("v_proj", 16));
    }

    @Override
    protected List<String> targetModules() {
        return List.of("q_proj", "v_proj", "down_proj");
    }

    @Test
    void testPatternsSetEachSitesRankAndScaling() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        Map<String, LoraModule> modules = new TreeMap<>();
        adapter.attachments().forEach((site, attachment) -> modules.put(site.name(), (LoraModule) attachment.module()));

        assertThat(modules).containsOnlyKeys(
                "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.0.mlp.down_proj",
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj");
        assertRankAndScaling(modules.get("model.layers.0.self_attn.q_proj"), 2, 4 / Math.sqrt(2));
        assertRankAndScaling(modules.get("model.layers.1.self_attn.q_proj"), 6, 4 / Math.sqrt(6));
        assertRankAndScaling(modules.get("model.layers.0.self_attn.v_proj"), 2, 16 / Math.sqrt(2));
        assertRankAndScaling(modules.get("model.layers.1.mlp.down_proj"), 3, 4 / Math.sqrt(3));
        // q_proj 64→64 at r 2 and 6, v_proj 64→32 at r 2 twice, down_proj 128→64 at r 3 twice.
        assertThat(model.trainableParameterCount()).isEqualTo(2 * 128 + 6 * 128 + 2 * (2 * 96) + 2 * (3 * 192));
        List<Site> sites = adapter.sites();
        assertThat(adapter.instance().trainableParameterCount(sites)).isEqualTo(2_560L);
    }

    private static void assertRankAndScaling(LoraModule module, int rank, double scaling) {
        assertThat(module.rank()).as("rank at %s", module.site().name()).isEqualTo(rank);
        assertThat((double) module.scaling()).as("scaling at %s", module.site().name()).isCloseTo(scaling, within(1e-6));
    }
}
