package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.PeftNames;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
import dev.graft.tck.MethodConformanceTest;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * LoRA with per-site ranks and alphas, rsLoRA, Gaussian init and dropout passes the conformance kit, and the rank
 * and alpha patterns reach the runtime's sites and counts.
 */
final class TestLoraPatternConformance extends MethodConformanceTest {
    private static final int RANK = 2;
    private static final int ALPHA = 4;
    /** {@code rank_pattern}, in PEFT's order: the first key that matches a module's name gives its rank. */
    private static final Map<String, Integer> RANK_PATTERN = ordered("layers\\.1\\.self_attn\\.q_proj", 6, "down_proj", 3);
    private static final Map<String, Integer> ALPHA_PATTERN = ordered("v_proj", 16);

    @Override
    protected PeftMethod method() {
        return new LoraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of(
                "r", RANK,
                "lora_alpha", ALPHA,
                "use_rslora", true,
                "init_lora_weights", "gaussian",
                "lora_dropout", 0.1,
                "rank_pattern", RANK_PATTERN,
                "alpha_pattern", ALPHA_PATTERN);
    }

    @Override
    protected List<String> targetModules() {
        return List.of("q_proj", "v_proj", "down_proj");
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return options();
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

    /** PEFT's layout at the site's own rank: {@code lora_A.weight (r_site, in)} and {@code lora_B.weight (out, r_site)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        int rank = rank(site);
        return Map.of("lora_A.weight", new Shape(rank, linear.inFeatures()), "lora_B.weight", new Shape(linear.outFeatures(), rank));
    }

    /** ΔW = s_site·B·A with rsLoRA's s_site = α_site/√r_site, rank and alpha by PEFT's pattern rule. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        double scaling = alpha(site) / Math.sqrt(rank(site));
        return Matrices.scaled(Matrices.product(tensors.site(site, "lora_B.weight").matrix(), tensors.site(site, "lora_A.weight").matrix()), scaling);
    }

    private static int rank(Site site) {
        return patternValue(RANK_PATTERN, site.name()).map(Number::intValue).orElse(RANK);
    }

    private static double alpha(Site site) {
        return patternValue(ALPHA_PATTERN, site.name()).map(Number::doubleValue).orElse((double) ALPHA);
    }

    /** PEFT's {@code get_pattern_key}: the value of the first key matching the module's name (or a dotted suffix of it). */
    private static Optional<Number> patternValue(Map<String, ? extends Number> pattern, String moduleName) {
        for (Map.Entry<String, ? extends Number> entry : pattern.entrySet()) {
            if (PeftNames.matchesPatternKey(PeftNames.patternKey(entry.getKey()), moduleName)) {
                return Optional.of(entry.getValue());
            }
        }
        return Optional.empty();
    }

    private static Map<String, Integer> ordered(Object... keysAndValues) {
        Map<String, Integer> map = new LinkedHashMap<>();
        for (int index = 0; index < keysAndValues.length; index += 2) {
            map.put((String) keysAndValues[index], (Integer) keysAndValues[index + 1]);
        }
        return java.util.Collections.unmodifiableMap(map);
    }

    private static void assertRankAndScaling(LoraModule module, int rank, double scaling) {
        assertThat(module.rank()).as("rank at %s", module.site().name()).isEqualTo(rank);
        assertThat((double) module.scaling()).as("scaling at %s", module.site().name()).isCloseTo(scaling, within(1e-6));
    }
}
