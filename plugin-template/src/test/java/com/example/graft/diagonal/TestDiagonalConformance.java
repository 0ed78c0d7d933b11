package com.example.graft.diagonal;

import ai.djl.ndarray.types.Shape;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.CheckpointTensors;
import dev.graft.tck.Matrices;
import dev.graft.tck.MethodConformanceTest;
import dev.graft.tck.SavedTensor;

import java.util.Map;

/**
 * The diagonal method passes Graft's conformance kit: identity at init, merge/unmerge equivalence, training touches
 * only its parameters, save/load, parameter count, option checks, gating and memory scoping, all on a real model.
 */
final class TestDiagonalConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new DiagonalMethod();
    }

    @Override
    protected Map<String, Map<String, Object>> invalidOptions() {
        return Map.of(
                "negative init_std", Map.of("init_std", -0.1),
                "init_std that is not a number", Map.of("init_std", "small"));
    }

    /** {@code diagonal_d (min(in, out))}. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        LinearSite linear = (LinearSite) site;
        return Map.of("diagonal_d", new Shape(Math.min(linear.inFeatures(), linear.outFeatures())));
    }

    /** ΔW = diag(d): d on the main diagonal of the {@code out × in} weight, zeros elsewhere. */
    @Override
    protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
        SavedTensor diagonal = tensors.site(site, "diagonal_d");
        float[][] delta = Matrices.zeros(site.outFeatures(), site.inFeatures());
        for (int index = 0; index < Math.min(site.inFeatures(), site.outFeatures()); index++) {
            delta[index][index] = diagonal.at(index);
        }
        return delta;
    }
}
