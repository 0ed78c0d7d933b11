package dev.graft.runtime.report;

import static java.util.Objects.requireNonNull;

import java.io.PrintStream;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;

/**
 * Draws the progress bar on one terminal line and prints other lines above it. After each drawing it erases the rest
 * of the line, so a shorter bar or message leaves no stale characters behind.
 */
final class TerminalBarConsumer extends ConsoleProgressBarConsumer {
    static final String ERASE_TO_END_OF_LINE = "\u001b[K";

    private final PrintStream out;
    private String lastBar = "";

    TerminalBarConsumer(PrintStream out) {
        super(requireNonNull(out, "out is null"));
        this.out = out;
    }

    /** Draws {@code rendered}, the bar, over the previous drawing. */
    @Override
    public void accept(String rendered) {
        synchronized (out) {
            lastBar = rendered;
            draw();
        }
    }

    /** Prints {@code line} where the bar is, then draws the bar again below it. */
    void printAbove(String line) {
        synchronized (out) {
            out.print("\r" + ERASE_TO_END_OF_LINE + line + "\n");
            draw();
        }
    }

    private void draw() {
        super.accept(lastBar);
        out.print(ERASE_TO_END_OF_LINE);
        out.flush();
    }
}
