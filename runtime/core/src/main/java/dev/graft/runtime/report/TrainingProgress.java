package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.PrintStream;
import java.time.Duration;
import java.util.function.LongSupplier;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The progress bar of a training run. On a terminal an animated bar (me.tongfei progressbar); otherwise (tests, CI,
 * redirected output) plain lines, at most one per update and only every 10 % of the steps or every 30 s (see
 * {@link #start(PrintStream, String, long, long, boolean, long, Duration)}), so logs stay short. Shows epoch,
 * step/total, loss, learning rate, tokens/s and ETA.
 */
public final class TrainingProgress implements AutoCloseable {
    /** The default time between two plain lines when the step interval has not passed. */
    public static final Duration DEFAULT_PLAIN_INTERVAL_TIME = Duration.ofSeconds(30);
    private static final int BAR_UPDATE_MILLIS = 200;

    private final PrintStream out;
    private final ProgressBar bar;
    private final TerminalBarConsumer barConsumer;
    private final PlainProgressLines plainLines;
    private boolean closed;

    private TrainingProgress(PrintStream out, ProgressBar bar, TerminalBarConsumer barConsumer, PlainProgressLines plainLines) {
        this.out = requireNonNull(out, "out is null");
        this.bar = bar;
        this.barConsumer = barConsumer;
        this.plainLines = plainLines;
    }

    /**
     * Starts the progress of {@code task} over steps {@code firstStep} (0, or the step a resumed run starts from) to
     * {@code totalSteps}: an animated bar on {@code out} when {@code terminal}, plain lines every 10 % of the steps or
     * every 30 s otherwise. Use {@link #isTerminal(PrintStream)} for {@code terminal}.
     */
    public static TrainingProgress start(PrintStream out, String task, long totalSteps, long firstStep, boolean terminal) {
        return start(out, task, totalSteps, firstStep, terminal, defaultPlainIntervalSteps(totalSteps), DEFAULT_PLAIN_INTERVAL_TIME);
    }

    /** As {@link #start(PrintStream, String, long, long, boolean)}, with plain lines every {@code plainIntervalSteps} steps or every {@code plainIntervalTime}. */
    public static TrainingProgress start(PrintStream out, String task, long totalSteps, long firstStep, boolean terminal,
            long plainIntervalSteps, Duration plainIntervalTime) {
        return start(out, task, totalSteps, firstStep, terminal, plainIntervalSteps, plainIntervalTime, System::nanoTime);
    }

    static TrainingProgress start(PrintStream out, String task, long totalSteps, long firstStep, boolean terminal,
            long plainIntervalSteps, Duration plainIntervalTime, LongSupplier nanoTime) {
        requireNonNull(out, "out is null");
        requireNonNull(task, "task is null");
        requireNonNull(plainIntervalTime, "plainIntervalTime is null");
        if (totalSteps < 1) {
            throw new IllegalArgumentException(format("Progress of %s over %d steps: a run has at least one step", task, totalSteps));
        }
        if (firstStep < 0 || firstStep > totalSteps) {
            throw new IllegalArgumentException(format("Progress of %s starts at step %d of %d: the first step is between 0 and the total", task, firstStep, totalSteps));
        }
        if (plainIntervalSteps < 1 || plainIntervalTime.isNegative()) {
            throw new IllegalArgumentException(format("Progress of %s: a line every %d steps or %s; give at least 1 step and a time of 0 or more", task, plainIntervalSteps, plainIntervalTime));
        }
        if (!terminal) {
            return new TrainingProgress(out, null, null, new PlainProgressLines(out, task, totalSteps, firstStep, plainIntervalSteps, plainIntervalTime, nanoTime));
        }
        TerminalBarConsumer consumer = new TerminalBarConsumer(out);
        ProgressBar bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(totalSteps)
                .startsFrom(firstStep, Duration.ZERO)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis(BAR_UPDATE_MILLIS)
                .setConsumer(consumer)
                .build();
        return new TrainingProgress(out, bar, consumer, null);
    }

    /** Whether {@code out} is where an animated bar belongs: the standard error stream of a JVM attached to a terminal. */
    public static boolean isTerminal(PrintStream out) {
        return System.console() != null && out == System.err;
    }

    /** 10 % of the steps, at least one. */
    static long defaultPlainIntervalSteps(long totalSteps) {
        return Math.max(1, (totalSteps + 9) / 10);
    }

    /** Shows the state after {@code step}. */
    public synchronized void update(long step, double epoch, double loss, double learningRate, double tokensPerSecond) {
        if (closed) {
            return;
        }
        if (bar != null) {
            bar.setExtraMessage(ProgressFormat.epoch(epoch) + "  " + ProgressFormat.metrics(loss, learningRate, tokensPerSecond));
            bar.stepTo(step);
        }
        else {
            plainLines.update(step, epoch, loss, learningRate, tokensPerSecond);
        }
    }

    /** Prints {@code line} (an evaluation result, a checkpoint) without breaking the bar. */
    public synchronized void message(String line) {
        requireNonNull(line, "line is null");
        if (plainLines != null) {
            plainLines.message(line);
        }
        else if (closed) {
            out.println(line);
            out.flush();
        }
        else {
            barConsumer.printAbove(line);
        }
    }

    /** Draws the final state (in plain mode: the last update, when its line was not printed yet) and ends the bar. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (bar != null) {
            bar.close();
        }
        else {
            plainLines.finish();
        }
    }
}
