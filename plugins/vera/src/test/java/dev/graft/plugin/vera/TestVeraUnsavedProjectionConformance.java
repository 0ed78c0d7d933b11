package dev.graft.plugin.vera;

import ai.djl.ndarray.types.Shape;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.MethodConformanceTest;

import java.util.Map;

/**
 * The conformance kit on VeRA with {@code save_projection: false}: checkpoints hold only the λ vectors, and a
 * reload regenerates identical projections from {@code projection_prng_key}, so outputs still match exactly.
 */
final class TestVeraUnsavedProjectionConformance extends MethodConformanceTest {
    @Override
    protected PeftMethod method() {
        return new VeraMethod();
    }

    @Override
    protected Map<String, Object> options() {
        return Map.of("r", 8, "save_projection", false, "projection_prng_key", 7, "d_initial", 0.5);
    }

    /** The projections are not saved (save_projection false): only the λ vectors. ΔW is not determined by the file. */
    @Override
    protected Map<String, Shape> expectedSiteTensors(Site site) {
        return Map.of("vera_lambda_b", new Shape(((LinearSite) site).outFeatures()), "vera_lambda_d", new Shape(8));
    }
}
