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
 * The conformance kit on Bone with r=5, which does not divide the input width 64: forward pads the input and merge
 * fills the last 4 columns from the first 4 columns of {@code bone_blockᵀ}.
 */
final class TestBoneRemainderConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BoneMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 5, "bone_dropout", 0.1);
    }

    @Test
    void testParameterCountIsRankTimesOutPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // r=5 · (64 + 32) · 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(960);
    }

    /** {@code bone_block (r, out)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("bone_block", new Shape(5, ((LinearSite) site).outFeatures()));
    }

    /** ΔW has {@code Bᵀ} in every r-column block (r = 5 does not divide 64: the remainder block gets its first columns): ΔW[o][c] = B[c mod r][o]. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor block = tensors.site(site, "bone_block");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            for (int column = 0; column < site.inFeatures(); column++) {
                delta[row][column] = block.at(column % 5, row);
            }
        }
        return delta;
    }
}
