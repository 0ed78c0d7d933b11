package dev.graft.tck;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.Shape;
import dev.graft.spi.LinearSite;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.tck.RankOneMethod.Defect;

import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The kit fails methods with planted bugs, each by the check meant for it, while the same method without the bug
 * passes the whole kit ({@link TestRankOneConformance}). Each kit here declares what the correct method saves and
 * its ΔW, as an author would.
 */
final class TestConformanceKitCatchesDefects {
    @Test
    void testWrongParameterFormulaFails() {
        assertKitFails(Defect.WRONG_COUNT, MethodConformanceTest::testTrainableParameterCountMatchesFormula,
                "trainable parameters counted on the model vs the method's formula");
    }

    @Test
    void testClosingAnArrayFromTheParameterStoreFails() {
        assertKitFails(Defect.CLOSES_PARAMETER, MethodConformanceTest::testForwardBackwardAndMergeKeepOwnership,
                "closed (a module closed an array it got from ParameterStore)");
    }

    @Test
    void testTakingAnArrayFromTheParameterStoreFails() {
        assertKitFails(Defect.KEEPS_PARAMETER, MethodConformanceTest::testForwardBackwardAndMergeKeepOwnership, "after an evaluation forward");
    }

    @Test
    void testTemporaryInTheModelsManagerFails() {
        assertKitFails(Defect.TEMPORARY_IN_MODEL_MANAGER, MethodConformanceTest::testForwardBackwardAndMergeKeepOwnership,
                "arrays attached to the model's manager by a training forward and backward");
    }

    @Test
    void testWrongButConsistentlyMergingFormulaFails() {
        assertKitFails(Defect.WRONG_FORMULA, MethodConformanceTest::testMergedUpdateEqualsTheReferenceDelta, "against the declared reference");
        assertKitPasses(Defect.WRONG_FORMULA, MethodConformanceTest::testMergeAndUnmergeMatchUnmergedOutputs);
    }

    @Test
    void testSwappedFactorShapesFail() {
        assertKitFails(Defect.SWAPPED_SHAPES, MethodConformanceTest::testSavedCheckpointHasExactlyTheDeclaredKeysAndShapes,
                "key base_model.model.model.layers.0.self_attn.v_proj.a has shape (64, 1), declared (1, 64)");
        assertKitPasses(Defect.SWAPPED_SHAPES, MethodConformanceTest::testMergeAndUnmergeMatchUnmergedOutputs);
    }

    @Test
    void testCorrectMethodPassesTheNewChecks() {
        assertKitPasses(Defect.NONE, MethodConformanceTest::testForwardBackwardAndMergeKeepOwnership);
        assertKitPasses(Defect.NONE, MethodConformanceTest::testMergedUpdateEqualsTheReferenceDelta);
        assertKitPasses(Defect.NONE, MethodConformanceTest::testSavedCheckpointHasExactlyTheDeclaredKeysAndShapes);
    }

    private static void assertKitFails(Defect defect, Consumer<MethodConformanceTest> check, String message) {
        MethodConformanceTest kit = kit(defect);
        kit.openManager();
        try {
            assertThatThrownBy(() -> check.accept(kit)).isInstanceOf(AssertionError.class).hasMessageContaining(message);
        }
        finally {
            kit.closeManager();
        }
    }

    private static void assertKitPasses(Defect defect, Consumer<MethodConformanceTest> check) {
        MethodConformanceTest kit = kit(defect);
        kit.openManager();
        try {
            check.accept(kit);
        }
        finally {
            kit.closeManager();
        }
    }

    private static MethodConformanceTest kit(Defect defect) {
        return new MethodConformanceTest() {
            @Override
            protected PeftMethod method() {
                return new RankOneMethod(defect);
            }

            @Override
            protected Map<String, Object> options() {
                return Map.of("scale", 2.0);
            }

            @Override
            protected Map<String, Shape> expectedSiteTensors(Site site) {
                return RankOneMethod.expectedSiteTensors(site);
            }

            @Override
            protected float[][] referenceDelta(LinearSite site, float[][] weight, CheckpointTensors tensors) {
                return RankOneMethod.referenceDelta(site, tensors, 2.0);
            }
        };
    }
}
