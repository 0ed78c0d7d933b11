package dev.graft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

final class TestMetricsTable {
    @Test
    void testUnionOfMetricsInFirstSeenOrderWithFourDecimalsAndDashes() {
        Map<String, Double> gated = new LinkedHashMap<>();
        gated.put("accuracy", 0.97123);
        gated.put("macro_f1", 0.965);
        gated.put("loss", 0.1);
        Map<String, Double> lora = new LinkedHashMap<>();
        lora.put("loss", 0.23456);
        lora.put("accuracy", 0.95);
        lora.put("perplexity", 1.26441);

        assertThat(MetricsTable.render(List.of(new RunMetrics("gated lora + adapter + prefix", gated), new RunMetrics("lora", lora)))).containsExactly(
                "RUN                            accuracy  macro_f1    loss  perplexity",
                "gated lora + adapter + prefix    0.9712    0.9650  0.1000           -",
                "lora                             0.9500         -  0.2346      1.2644");
    }

    @Test
    void testNoRunsGivesTheRunColumnOnly() {
        assertThat(MetricsTable.render(List.of())).containsExactly("RUN");
    }
}
