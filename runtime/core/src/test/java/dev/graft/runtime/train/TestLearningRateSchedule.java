package dev.graft.runtime.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import org.junit.jupiter.api.Test;

final class TestLearningRateSchedule {
    @Test
    void testLinearWarmupThenDecayMatchesHuggingFace() {
        // get_linear_schedule_with_warmup(warmup=2, total=10): lambda = s/2 for s < 2, then (10 - s)/8
        LearningRateSchedule schedule = new LearningRateSchedule(LearningRateSchedule.Kind.LINEAR, 1e-3, 2, 10);
        assertThat(schedule.rate(0)).isZero();
        assertThat(schedule.rate(1)).isCloseTo(0.5e-3, offset(1e-12));
        assertThat(schedule.rate(2)).isCloseTo(1e-3, offset(1e-12));
        assertThat(schedule.rate(6)).isCloseTo(0.5e-3, offset(1e-12));
        assertThat(schedule.rate(10)).isZero();
        assertThat(schedule.rate(12)).isZero();
    }

    @Test
    void testCosineIsHalfAPeriodAfterWarmup() {
        LearningRateSchedule schedule = new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 2.0, 0, 4);
        assertThat(schedule.rate(0)).isCloseTo(2.0, offset(1e-12));
        assertThat(schedule.rate(1)).isCloseTo(1 + Math.cos(Math.PI / 4), offset(1e-12));
        assertThat(schedule.rate(2)).isCloseTo(1.0, offset(1e-12));
        assertThat(schedule.rate(4)).isCloseTo(0.0, offset(1e-12));
    }

    @Test
    void testCosineWithWarmupMatchesHuggingFace() {
        // get_cosine_schedule_with_warmup(warmup=3, total=13): lambda = s/3 for s < 3, then 0.5·(1 + cos(π·(s − 3)/10))
        LearningRateSchedule schedule = new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 4e-4, 3, 13);
        assertThat(schedule.rate(0)).isZero();
        assertThat(schedule.rate(2)).isCloseTo(4e-4 * 2 / 3, offset(1e-15));
        assertThat(schedule.rate(3)).isCloseTo(4e-4, offset(1e-15));
        assertThat(schedule.rate(5)).isCloseTo(4e-4 * 0.5 * (1 + Math.cos(Math.PI * 0.2)), offset(1e-15));
        assertThat(schedule.rate(8)).isCloseTo(2e-4, offset(1e-15));
        assertThat(schedule.rate(12)).isCloseTo(4e-4 * 0.5 * (1 + Math.cos(Math.PI * 0.9)), offset(1e-15));
        assertThat(schedule.rate(13)).isCloseTo(0, offset(1e-15));
    }

    @Test
    void testConstantKeepsThePeakAfterWarmup() {
        LearningRateSchedule schedule = new LearningRateSchedule(LearningRateSchedule.Kind.of("constant"), 0.1, 4, 100);
        assertThat(schedule.rate(1)).isCloseTo(0.025, offset(1e-12));
        assertThat(schedule.rate(99)).isCloseTo(0.1, offset(1e-12));
    }

    @Test
    void testWarmupStepsWinOverTheRatio() {
        assertThat(LearningRateSchedule.warmupSteps(5, 0.5, 100)).isEqualTo(5);
        assertThat(LearningRateSchedule.warmupSteps(0, 0.1, 95)).isEqualTo(10);
        assertThat(LearningRateSchedule.warmupSteps(0, 0.0, 95)).isZero();
    }

    @Test
    void testUnknownSchedulerNamesTheChoices() {
        assertThatThrownBy(() -> LearningRateSchedule.Kind.of("cosin"))
                .hasMessage("unknown lr_scheduler 'cosin'; use linear, cosine or constant");
    }
}
