package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Training progress as plain lines, for logs and redirected output: a line when the step passes the next multiple
 * of {@code intervalSteps}, when {@code intervalTime} has passed since the last line, or at the last step; never
 * more than one line per update.
 */
final class PlainProgressLines {
    private final PrintStream out;
    private final String task;
    private final long totalSteps;
    private final long firstStep;
    private final long intervalSteps;
    private final long intervalNanos;
    private final LongSupplier nanoTime;
    private final long startNanos;
    private long lastLineNanos;
    private long nextBoundary;
    private String pendingLine;

    PlainProgressLines(PrintStream out, String task, long totalSteps, long firstStep, long intervalSteps, Duration intervalTime, LongSupplier nanoTime) {
        this.out = requireNonNull(out, "out is null");
        this.task = requireNonNull(task, "task is null");
        this.totalSteps = totalSteps;
        this.firstStep = firstStep;
        this.intervalSteps = intervalSteps;
        this.intervalNanos = requireNonNull(intervalTime, "intervalTime is null").toNanos();
        this.nanoTime = requireNonNull(nanoTime, "nanoTime is null");
        this.startNanos = nanoTime.getAsLong();
        this.lastLineNanos = startNanos;
        this.nextBoundary = boundaryAfter(firstStep);
    }

    /** Records the state after {@code step}; prints it when a line is due. */
    void update(long step, double epoch, double loss, double learningRate, double tokensPerSecond) {
        long now = nanoTime.getAsLong();
        String line = line(step, epoch, loss, learningRate, tokensPerSecond, now);
        if (step >= nextBoundary || now - lastLineNanos >= intervalNanos || step >= totalSteps) {
            print(line, now);
            nextBoundary = boundaryAfter(step);
        }
        else {
            pendingLine = line;
        }
    }

    /** Prints {@code line} as is. */
    void message(String line) {
        out.println(line);
        out.flush();
    }

    /** Prints the last update if its line was not printed yet. */
    void finish() {
        if (pendingLine != null) {
            print(pendingLine, nanoTime.getAsLong());
        }
    }

    private void print(String line, long now) {
        out.println(line);
        out.flush();
        lastLineNanos = now;
        pendingLine = null;
    }

    private long boundaryAfter(long step) {
        return (step / intervalSteps + 1) * intervalSteps;
    }

    private String line(long step, double epoch, double loss, double learningRate, double tokensPerSecond, long now) {
        long done = step - firstStep;
        String eta = done > 0 && step <= totalSteps
                ? ProgressFormat.duration(Duration.ofNanos((long) ((double) (now - startNanos) / done * (totalSteps - step))))
                : "-";
        long percent = Math.round(100.0 * step / totalSteps);
        return format(Locale.ROOT, "%s: %s  step %d/%d (%d%%)  %s  ETA %s", task, ProgressFormat.epoch(epoch), step, totalSteps, percent,
                ProgressFormat.metrics(loss, learningRate, tokensPerSecond), eta);
    }
}
