package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.tck.MethodConformanceTest;

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
}
