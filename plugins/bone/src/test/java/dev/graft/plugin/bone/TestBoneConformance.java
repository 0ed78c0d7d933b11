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

/** The conformance kit on Bone (r=4 on q_proj and v_proj of the tiny Llama), plus the parameter count. */
final class TestBoneConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BoneMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "rank 0", Map.of("r", 0),
                "dropout 1", Map.of("bone_dropout", 1.0),
                "unknown variant", Map.of("init_weights", "mini"),
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
        return Map.of("r", 4, "bone_dropout", 0.5);
    }

    /** {@code bone_block (r, out)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("bone_block", new Shape(4, ((LinearSite) site).outFeatures()));
    }

    /** ΔW has {@code Bᵀ} in every r-column block (a remainder block gets its first columns): ΔW[o][c] = B[c mod r][o]. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor block = tensors.site(site, "bone_block");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                delta[row][column] = block.at(column % 4, row);
            }
        }
        return delta;
    }
}
