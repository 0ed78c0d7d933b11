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

/** The conformance kit on MiSS's bat ({@code init_weights: "bat"}, r=4 on q_proj and v_proj), plus its parameter count. */
final class TestMissBatConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new MissMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "init_weights", "bat");
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of("r not dividing the targets", Map.of("r", 5, "init_weights", "bat"));
    }

    @Test
    void testParameterCountIsRankTimesOutPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // (64/4 · 4 · 4 = 256 for q_proj) + (32/4 · 4 · 4 = 128 for v_proj), times 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(768);
    }

    /** {@code miss_block (out/r, r, r)}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("miss_block", new Shape(((LinearSite) site).outFeatures() / 4, 4, 4));
    }

    /** ΔW_ij = W_ij·B_i + B_i on the r×r blocks (i the output block, j the input block). */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        int rank = 4;
        SavedTensor blocks = tensors.site(site, "miss_block");
        float[][] delta = new float[site.outFeatures()][site.inFeatures()];
        for (int row = 0; row < site.outFeatures(); row++) {
            int outputBlock = row / rank;
            int rowInBlock = row % rank;
            for (int column = 0; column < site.inFeatures(); column++) {
                int inputBlockStart = column / rank * rank;
                int columnInBlock = column % rank;
                double sum = blocks.at(outputBlock, rowInBlock, columnInBlock);
                for (int index = 0; index < rank; index++) {
                    sum += (double) weight[row][inputBlockStart + index] * blocks.at(outputBlock, index, columnInBlock);
                }
                delta[row][column] = (float) sum;
            }
        }
        return delta;
    }
}
