package dev.graft.plugin.adapter;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SublayerSite;
import dev.graft.tck.MethodConformanceTest;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The default (Pfeiffer) bottleneck adapter passes the conformance kit on the runtime's tiny Llama. */
final class TestBottleneckAdapterConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new BottleneckAdapterMethod();
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.ofEntries(
                Map.entry("reduction factor 0", Map.of("reduction_factor", 0)),
                Map.entry("negative reduction factor", Map.of("reduction_factor", -4.0)),
                Map.entry("infinite scaling", Map.of("scaling", Double.POSITIVE_INFINITY)),
                Map.entry("learned scaling", Map.of("scaling", "learned")),
                Map.entry("dropout 1", Map.of("dropout", 1.0)),
                Map.entry("no placement", Map.of("mh_adapter", false, "output_adapter", false)),
                Map.entry("leave out a layer the model lacks", Map.of("leave_out", List.of(2))),
                Map.entry("leave out every layer", Map.of("leave_out", List.of(0, 1))),
                Map.entry("unknown preset", Map.of("config", "compacter")),
                Map.entry("unknown activation", Map.of("non_linearity", "leakyrelu")),
                Map.entry("unknown initialization", Map.of("init_weights", "xavier")));
    }

    @Test
    void testPfeifferAdaptsTheFeedForwardSublayersWithTheFormulaCount() {
        PeftModel model = newModel();
        Adapter adapter = attach(model, "default", Composition.SUM);

        assertThat(adapter.sites()).extracting(Site::name).containsExactly("model.layers.0.mlp", "model.layers.1.mlp");
        // hidden 64, reduction 16: d = 4, so 2·64·4 + 4 + 64 = 580 per feed-forward sublayer.
        assertThat(model.trainableParameterCount()).isEqualTo(2 * 580L);
    }

    /** Swish on BERT: hidden 32 gives a bottleneck of 2 units, which ReLU can leave without gradient. */
    @Override
    protected Map<String, Object> bertOptions() {
        return Map.of("non_linearity", "swish");
    }

    @Override
    protected Map<String, Object> dropoutOptions() {
        return Map.of("dropout", 0.5);
    }

    /** AdapterHub's bottleneck at each sublayer, d = hidden / reduction_factor 16: down {@code (d, h)}, up {@code (h, d)}, with biases. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        int hidden = ((SublayerSite) site).hiddenSize();
        int bottleneck = hidden / 16;
        return Map.of(
                "adapter_down.weight", new Shape(bottleneck, hidden), "adapter_down.bias", new Shape(bottleneck),
                "adapter_up.weight", new Shape(hidden, bottleneck), "adapter_up.bias", new Shape(hidden));
    }
}
