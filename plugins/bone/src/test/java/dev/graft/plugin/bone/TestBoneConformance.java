package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.tck.MethodConformanceTest;

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
}
