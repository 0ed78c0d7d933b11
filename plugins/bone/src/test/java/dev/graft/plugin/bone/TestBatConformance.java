package dev.graft.plugin.bone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.tck.MethodConformanceTest;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The conformance kit on Bat ({@code init_weights: "bat"}, r=4 on q_proj and v_proj), plus the parameter count. */
final class TestBatConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BoneMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 4, "init_weights", "bat");
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "r not dividing the targets", Map.of("r", 5, "init_weights", "bat"),
                "dropout with bat", Map.of("r", 4, "init_weights", "bat", "bone_dropout", 0.1));
    }

    @Test
    void testParameterCountIsRankTimesOutPerLayer() {
        PeftModel model = newModel();
        attach(model, "default", Composition.SUM);
        // (64/4 · 4 · 4 = 256 for q_proj) + (32/4 · 4 · 4 = 128 for v_proj), times 2 layers
        assertThat(model.trainableParameterCount()).isEqualTo(768);
    }
}
