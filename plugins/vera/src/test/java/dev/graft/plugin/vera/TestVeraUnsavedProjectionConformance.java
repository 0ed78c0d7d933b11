package dev.graft.plugin.vera;

import dev.graft.spi.PeftMethod;
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
}
