package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Locale;

/**
 * The learning rate of each optimizer step, as Hugging Face's {@code get_scheduler} computes it: a linear warm-up
 * from 0 over {@code warmupSteps}, then {@code constant}, {@code linear} decay to 0 at {@code totalSteps}, or
 * {@code cosine} decay (half a cosine period) to 0 at {@code totalSteps}. A pure function of the step, so a resumed
 * run needs only its step count.
 *
 * @param kind the shape after warm-up
 * @param peak the learning rate after warm-up
 * @param warmupSteps the number of warm-up steps
 * @param totalSteps the number of optimizer steps of the run
 */
public record LearningRateSchedule(Kind kind, double peak, long warmupSteps, long totalSteps) {
    /** The shape of the schedule after warm-up. */
    public enum Kind {
        CONSTANT, LINEAR, COSINE;

        /** {@code constant}, {@code linear} or {@code cosine}. */
        public static Kind of(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            }
            catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(format("unknown lr_scheduler '%s'; use linear, cosine or constant", name), e);
            }
        }
    }

    public LearningRateSchedule {
        requireNonNull(kind, "kind is null");
        if (!(peak > 0) || Double.isInfinite(peak)) {
            throw new IllegalArgumentException(format("the learning rate must be positive and finite, found %s", peak));
        }
        if (totalSteps < 1 || warmupSteps < 0) {
            throw new IllegalArgumentException(format("a schedule needs at least one step and no negative warm-up, found %d steps and %d warm-up steps", totalSteps, warmupSteps));
        }
    }

    /** Warm-up steps from Hugging Face's rule: {@code warmup_steps} when positive, else {@code ceil(ratio · total)}. */
    public static long warmupSteps(long warmupSteps, double warmupRatio, long totalSteps) {
        return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(warmupRatio * totalSteps);
    }

    /** The learning rate of the optimizer step that follows {@code completedSteps} steps (0 for the first step). */
    public double rate(long completedSteps) {
        if (completedSteps < warmupSteps) {
            return peak * completedSteps / Math.max(1, warmupSteps);
        }
        if (kind == Kind.CONSTANT) {
            return peak;
        }
        double progress = (double) (completedSteps - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        if (kind == Kind.LINEAR) {
            return peak * Math.max(0.0, 1.0 - progress);
        }
        return peak * Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
    }
}
