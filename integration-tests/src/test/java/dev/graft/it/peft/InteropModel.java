package dev.graft.it.peft;

import dev.graft.runtime.peft.PeftModel;

/**
 * A test model of the interop suite, on both sides: fresh Graft {@link PeftModel}s with seeded base weights and a test
 * batch, and an oracle that says what PEFT computes on that batch for a {@link PeftEffect}. Outputs are
 * {@code [batch][sequence][width]}: logits for a causal LM, {@code last_hidden_state} for an encoder, real positions only.
 */
interface InteropModel extends AutoCloseable {
    /** What a test compares: outputs within this absolute tolerance of PEFT's, as PEFT's own merge tests allow. */
    double TOLERANCE = 1e-4;

    /** The base model as PEFT's adapter folders name it and as PEFT reads its sizes. */
    PeftBase base();

    /** A fresh Graft model with the seeded base weights and no adapter. */
    PeftModel newModel();

    /** Graft's outputs for the test batch, flat {@code [batch][sequence][width]}. */
    float[] outputs(PeftModel model);

    /** What PEFT computes for the test batch with an adapter that has {@code effect}, by the oracle. */
    double[][][] expectedOutputs(PeftEffect effect);

    /** Whether the comparisons cover position {@code position} of example {@code example} of the test batch. */
    boolean compares(int example, int position);

    /** The largest absolute difference between two sets of outputs over the positions the comparisons cover. */
    default double maxDifference(double[][][] first, double[][][] second) {
        double largest = 0;
        for (int example = 0; example < first.length; example++) {
            for (int position = 0; position < first[example].length; position++) {
                if (!compares(example, position)) {
                    continue;
                }
                for (int unit = 0; unit < first[example][position].length; unit++) {
                    largest = Math.max(largest, Math.abs(first[example][position][unit] - second[example][position][unit]));
                }
            }
        }
        return largest;
    }

    /** The largest absolute difference between Graft's flat {@code actual} and {@code expected}, as {@link #maxDifference(double[][][], double[][][])}. */
    default double maxDifference(float[] actual, double[][][] expected) {
        int sequence = expected[0].length;
        int width = expected[0][0].length;
        if (actual.length != expected.length * sequence * width) {
            throw new AssertionError(String.format("Graft gave %d values, expected %d×%d×%d", actual.length, expected.length, sequence, width));
        }
        double[][][] shaped = new double[expected.length][sequence][width];
        for (int index = 0; index < actual.length; index++) {
            shaped[index / (sequence * width)][index / width % sequence][index % width] = actual[index];
        }
        return maxDifference(shaped, expected);
    }

    @Override
    void close();
}
