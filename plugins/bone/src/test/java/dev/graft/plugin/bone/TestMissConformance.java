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

/** The conformance kit on MiSS's default ({@code init_weights: true}, r=4 on q_proj and v_proj of the tiny Llama), plus its parameter count. */
final class TestMissConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new MissMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "rank 0", Map.of("r", 0),
                "dropout 1", Map.of("miss_dropout", 1.0),
                "mini_r 0", Map.of("mini_r", 0),
                "unknown variant", Map.of("init_weights", "balance"),
                "bias all", Map.of("bias", "all"));
    }

    @Test
    void testParameterCountIsRankTimesOutPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // r=4 · (64 for q_proj + 32 for v_proj) · 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(768);
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("r", 4, "miss_dropout", 0.5);
    }

    /** {@code miss_block (r, out)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("miss_block", new Shape(4, ((LinearSite) site).outFeatures()));
    }

    /** ΔW has {@code Bᵀ} in every r-column block: ΔW[o][c] = B[c mod r][o]. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor block = tensors.site(site, "miss_block");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                delta[row][column] = block.at(column % 4, row);
            }
        }
        return delta;
    }
}
