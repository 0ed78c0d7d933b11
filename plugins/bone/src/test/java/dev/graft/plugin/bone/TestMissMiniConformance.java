package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.MethodConformanceTest;
import dev.graft.tck.SavedTensor;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The conformance kit on MiSS's mini ({@code init_weights: "mini"}, r=5, mini_r=4 on q_proj and v_proj): r = 5 does
 * not divide the input width 64, so forward pads and merge fills the last 4 columns from the first 4 rows of the block.
 */
final class TestMissMiniConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new MissMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 5, "init_weights", "mini", "mini_r", 4, "miss_dropout", 0.1);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of("mini_r not dividing out", Map.of("r", 4, "init_weights", "mini", "mini_r", 3));
    }

    @Test
    void testParameterCountIsRankTimesMiniRankPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // r=5 · mini_r=4 for each of q_proj and v_proj, times 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(80);
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 5, "init_weights", "mini", "mini_r", 4, "miss_dropout", 0.5);
    }

    /** {@code miss_block (r, mini_r)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("miss_block", new Shape(5, 4));
    }

    /** The block repeated along the output axis, transposed into every r-column block: ΔW[o][c] = B[c mod r][o mod mini_r]. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor block = tensors.site(site, "miss_block");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                delta[row][column] = block.at(column % 5, row % 4);
            }
        }
        return delta;
    }
}
