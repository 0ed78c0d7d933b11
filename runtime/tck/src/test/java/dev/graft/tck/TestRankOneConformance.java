package dev.graft.tck;

import ai.djl.ndarray.types.Shape;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;

import java.util.Map;

/** The kit passes on a correct method, with its checkpoint and ΔW declared. */
final class TestRankOneConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new RankOneMethod(RankOneMethod.Defect.NONE);
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("scale", 2.0);
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of("negative scale", Map.of("scale", -1.0), "scale of the wrong type", Map.of("scale", "big"));
    }

    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return RankOneMethod.expectedSiteTensors(site);
    }

    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        return RankOneMethod.referenceDelta(site, tensors, 2.0);
    }
}
