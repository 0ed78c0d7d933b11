package dev.graft.runtime.report;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

final class TestTrainingProgress {
    private static final long MILLISECOND = 1_000_000L;

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, UTF_8);
    private long now;

    @Test
    void testPlainModePrintsALineEveryTenPercentOfTheSteps() {
        try (TrainingProgress progress = plain(100, 0, Duration.ofSeconds(30))) {
            for (long step = 1; step <= 100; step++) {
                now += 100 * MILLISECOND;
                progress.update(step, step / 100.0, 0.6931, 2e-4, 1234.4);
            }
        }

        List<String> lines = lines();
        assertThat(lines).hasSize(10);
        assertThat(lines.get(0)).isEqualTo("train: epoch 0.10  step 10/100 (10%)  loss 0.6931  lr 2.00e-04  1,234 tokens/s  ETA 0:00:09");
        assertThat(lines.get(4)).isEqualTo("train: epoch 0.50  step 50/100 (50%)  loss 0.6931  lr 2.00e-04  1,234 tokens/s  ETA 0:00:05");
        assertThat(lines.get(9)).isEqualTo("train: epoch 1.00  step 100/100 (100%)  loss 0.6931  lr 2.00e-04  1,234 tokens/s  ETA 0:00:00");
    }

    @Test
    void testPlainModePrintsEveryIntervalTimeWhenStepsAreSlowAndTheLastUpdateOnClose() {
        TrainingProgress progress = plain(100, 0, Duration.ofSeconds(30));
        for (long step = 1; step <= 5; step++) {
            now += 20_000 * MILLISECOND;
            progress.update(step, step / 100.0, 1.0 / step, 1e-3, 500);
        }
        progress.close();

        assertThat(lines()).containsExactly(
                "train: epoch 0.02  step 2/100 (2%)  loss 0.5000  lr 1.00e-03  500 tokens/s  ETA 0:32:40",
                "train: epoch 0.04  step 4/100 (4%)  loss 0.2500  lr 1.00e-03  500 tokens/s  ETA 0:32:00",
                "train: epoch 0.05  step 5/100 (5%)  loss 0.2000  lr 1.00e-03  500 tokens/s  ETA 0:31:40");
    }

    @Test
    void testResumedRunCountsItsEtaFromTheFirstStep() {
        try (TrainingProgress progress = plain(100, 40, Duration.ofHours(1))) {
            for (long step = 41; step <= 50; step++) {
                now += 1_000 * MILLISECOND;
                progress.update(step, 2.5, 0.1, 5e-5, 98_765.4);
            }
            progress.message("validation: loss 0.0912  accuracy 0.9712");
        }

        assertThat(lines()).containsExactly(
                "train: epoch 2.50  step 50/100 (50%)  loss 0.1000  lr 5.00e-05  98,765 tokens/s  ETA 0:00:50",
                "validation: loss 0.0912  accuracy 0.9712");
    }

    @Test
    void testPublicStartPrintsStepLossAndTokensPerSecond() {
        try (TrainingProgress progress = TrainingProgress.start(out, "train", 100, 0, false)) {
            for (long step = 1; step <= 10; step++) {
                progress.update(step, 0.1, 0.6931, 2e-4, 1234);
            }
        }

        assertThat(lines()).hasSize(1);
        assertThat(lines().get(0)).contains("step 10/100", "loss 0.6931", "1,234 tokens/s", "ETA ");
    }

    @Test
    void testTerminalModeDrawsTheBarAndPrintsMessagesAboveIt() {
        try (TrainingProgress progress = TrainingProgress.start(out, "train", 100, 0, true)) {
            progress.update(50, 0.5, 0.6931, 2e-4, 1234);
            progress.message("checkpoint saved: checkpoints/step-50");
        }

        String text = bytes.toString(UTF_8);
        assertThat(text).contains("\r" + TerminalBarConsumer.ERASE_TO_END_OF_LINE + "checkpoint saved: checkpoints/step-50\n");
        assertThat(text.substring(text.lastIndexOf('\r'))).contains("train", "50/100").endsWith(TerminalBarConsumer.ERASE_TO_END_OF_LINE + System.lineSeparator());
    }

    @Test
    void testFirstStepBeyondTheTotalIsRejected() {
        assertThatThrownBy(() -> TrainingProgress.start(out, "train", 100, 101, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Progress of train starts at step 101 of 100: the first step is between 0 and the total");
    }

    @Test
    void testDefaultIntervalIsTenPercentAtLeastOneStep() {
        assertThat(TrainingProgress.defaultPlainIntervalSteps(100)).isEqualTo(10);
        assertThat(TrainingProgress.defaultPlainIntervalSteps(15)).isEqualTo(2);
        assertThat(TrainingProgress.defaultPlainIntervalSteps(3)).isEqualTo(1);
    }

    private TrainingProgress plain(long totalSteps, long firstStep, Duration intervalTime) {
        return TrainingProgress.start(out, "train", totalSteps, firstStep, false, TrainingProgress.defaultPlainIntervalSteps(totalSteps), intervalTime, () -> now);
    }

    private List<String> lines() {
        return bytes.toString(UTF_8).lines().toList();
    }
}
