package dev.graft.tck;

import dev.graft.spi.PeftMethod;

import java.util.Map;

/** The kit passes on a correct method. */
final class TestRankOneConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new RankOneMethod(0);
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("scale", 2.0);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of("negative scale", Map.of("scale", -1.0), "scale of the wrong type", Map.of("scale", "big"));
    }
}
