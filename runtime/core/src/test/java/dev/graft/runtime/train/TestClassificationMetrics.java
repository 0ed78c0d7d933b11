package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import org.junit.jupiter.api.Test;

final class TestClassificationMetrics {
    @Test
    void testAccuracyAndMacroF1MatchScikitLearn() {
        int[] truth = {0, 0, 0, 1, 1, 2};
        int[] predictions = {0, 0, 1, 1, 2, 2};
        // sklearn: accuracy 4/6; F1 per class: 0.8, 0.5, 0.6667 -> macro 0.65556
        assertThat(ClassificationMetrics.accuracy(truth, predictions)).isCloseTo(4.0 / 6, offset(1e-12));
        assertThat(ClassificationMetrics.macroF1(truth, predictions, 3)).isCloseTo((0.8 + 0.5 + 2.0 / 3) / 3, offset(1e-12));
    }

    @Test
    void testMajorityPredictionScoresZeroForTheOtherClass() {
        int[] truth = {0, 0, 1};
        int[] predictions = {0, 0, 0};
        // class 0: precision 2/3, recall 1 -> 0.8; class 1: never predicted -> 0
        assertThat(ClassificationMetrics.macroF1(truth, predictions, 2)).isCloseTo(0.4, offset(1e-12));
    }

    @Test
    void testClassesAbsentFromTruthAndPredictionsAreLeftOut() {
        assertThat(ClassificationMetrics.macroF1(new int[] {1, 1}, new int[] {1, 1}, 5)).isEqualTo(1.0);
    }
}
