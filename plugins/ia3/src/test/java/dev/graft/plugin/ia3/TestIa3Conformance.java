package dev.graft.plugin.ia3;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.MethodConformanceTest;
import dev.graft.tck.SavedTensor;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The conformance kit on IA³ with PEFT's llama targets (k_proj, v_proj, down_proj; down_proj feed-forward), plus
 * the parameter count and the side each target scales.
 */
final class TestIa3Conformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new Ia3Method();
    }

    @Override
    protected List<String> targetModules() {
        return List.of("k_proj", "v_proj", "down_proj");
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "fan_in_fan_out", Map.of("fan_in_fan_out", true),
                "feed-forward module that is not a target", Map.of("feedforward_modules", List.of("down_proj", "up_proj")),
                "feed-forward modules as a string that is no regular expression", Map.of("feedforward_modules", "mlp.(down"),
                "feed-forward modules of the wrong type", Map.of("feedforward_modules", 3));
    }

    @Test
    void testParameterCountIsOutPerAttentionTargetAndInPerFeedForwardTarget() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // k_proj and v_proj: out = 32 each; down_proj: in = 128; times 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(384);
    }

    @Test
    void testFeedForwardModulesAsARegularExpressionMatchTheWholeName() {
        PeftModel model = newModel();
        Adapter adapter = model.addAdapter(new AdapterSpec("default", Map.of("feedforward_modules", ".*\\.mlp\\.down_proj"),
                TargetRules.fromConfig(Map.of("target_modules", targetModules())), Composition.SUM), method());
        for (Site site : adapter.sites()) {
            Ia3Module module = (Ia3Module) adapter.attachments().get(site).module();
            assertThat(module.side()).as("side of %s", site.name())
                    .isEqualTo(site.name().endsWith("mlp.down_proj") ? ScalingLinearModule.Side.INPUT : ScalingLinearModule.Side.OUTPUT);
        }
        assertThat(model.trainableParameterCount()).isEqualTo(384);
    }

    @Test
    void testFeedForwardTargetScalesItsInputAndOthersTheirOutput() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);
        assertThat(adapter.sites()).hasSize(6);
        for (Site site : adapter.sites()) {
            Ia3Module module = (Ia3Module) adapter.attachments().get(site).module();
            boolean feedForward = site.name().endsWith("mlp.down_proj");
            assertThat(module.side()).as("side of %s", site.name())
                    .isEqualTo(feedForward ? ScalingLinearModule.Side.INPUT : ScalingLinearModule.Side.OUTPUT);
            assertThat(module.getParameters().get(Ia3Module.IA3_L).getArray().getShape()).as("ia3_l of %s", site.name())
                    .isEqualTo(feedForward ? new Shape(1, 128) : new Shape(32, 1));
        }
    }

    /** {@code ia3_l}: {@code (1, in)} on the feed-forward module {@code down_proj}, {@code (out, 1)} elsewhere. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of("ia3_l", feedForward(site) ? new Shape(1, linear.inFeatures()) : new Shape(linear.outFeatures(), 1));
    }

    /** ΔW = W ⊙ l − W: l scales W's columns on a feed-forward module (its input), W's rows elsewhere (its output). */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor scale = tensors.site(site, "ia3_l");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                float factor = feedForward(site) ? scale.at(0, column) : scale.at(row, 0);
                delta[row][column] = weight[row][column] * factor - weight[row][column];
            }
        }
        return delta;
    }

    private static boolean feedForward(Site site) {
        return site.name().endsWith("mlp.down_proj");
    }
}
