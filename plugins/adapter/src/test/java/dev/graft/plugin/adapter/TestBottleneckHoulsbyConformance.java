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

/** The Houlsby preset (attention and feed-forward, swish) passes the conformance kit. */
final class TestBottleneckHoulsbyConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BottleneckAdapterMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("config", "houlsby");
    }

    @Test
    void testHoulsbyAdaptsEverySublayerWithTheFormulaCount() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly(
                "model.layers.0.self_attn", "model.layers.0.mlp", "model.layers.1.self_attn", "model.layers.1.mlp");
        assertThat(adapter.attachments().values()).allSatisfy(attachment ->
                assertThat(((BottleneckAdapterModule) attachment.module()).nonLinearity()).isEqualTo(NonLinearity.SWISH));
        assertThat(model.trainableParameterCount()).isEqualTo(4 * 580L);
    }
}
