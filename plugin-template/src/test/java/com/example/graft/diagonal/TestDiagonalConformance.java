package com.example.graft.diagonal;

import dev.graft.spi.PeftMethod;
import dev.graft.tck.MethodConformanceTest;

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
}
