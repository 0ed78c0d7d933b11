package dev.graft.plugin.adapter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parallel preset (reads the sublayer input, reduction 2, scaling 4, mam_adapter init) passes the conformance kit. */
final class TestBottleneckParallelConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BottleneckAdapterMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("config", "par_bn");
    }

    @Test
    void testParallelPresetSettingsReachTheModules() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly("model.layers.0.mlp", "model.layers.1.mlp");
        assertThat(adapter.attachments().values()).allSatisfy(attachment -> {
            BottleneckAdapterModule module = (BottleneckAdapterModule) attachment.module();
            assertThat(module.isParallel()).isTrue();
            assertThat(module.bottleneck()).isEqualTo(32);
            assertThat(module.scaling()).isEqualTo(4f);
        });
        // hidden 64, reduction 2: d = 32, so 2·64·32 + 32 + 64 = 4,192 per feed-forward sublayer.
        assertThat(model.trainableParameterCount()).isEqualTo(2 * 4_192L);
    }
}
