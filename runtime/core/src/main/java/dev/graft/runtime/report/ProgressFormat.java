package dev.graft.runtime.report;

import static java.lang.String.format;

import java.time.Duration;
import java.util.Locale;

/** How the progress bar and the plain progress lines write their numbers. */
final class ProgressFormat {
    private ProgressFormat() {}

    /** "epoch 0.50". */
    static String epoch(double epoch) {
        return format(Locale.ROOT, "epoch %.2f", epoch);
    }

    /** "loss 0.6931  lr 2.00e-04  1,234 tokens/s". */
    static String metrics(double loss, double learningRate, double tokensPerSecond) {
        return format(Locale.ROOT, "loss %.4f  lr %.2e  %,.0f tokens/s", loss, learningRate, tokensPerSecond);
    }

    /** "1:02:03": hours, minutes, seconds. */
    static String duration(Duration duration) {
        long seconds = Math.max(0, duration.toSeconds());
        return format(Locale.ROOT, "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }
}
