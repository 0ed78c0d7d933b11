package dev.graft.runtime.train;

import static java.lang.String.format;

/**
 * Accuracy and macro-averaged F1 of predicted against true class indexes, as scikit-learn's {@code accuracy_score}
 * and {@code f1_score(average="macro")} compute them: F1 is averaged over the classes that occur among the true or
 * the predicted labels, and a class with no predicted (or no true) example has precision (or recall) 0.
 */
public final class ClassificationMetrics {
    private ClassificationMetrics() {}

    /** The share of predictions equal to the truth. */
    public static double accuracy(int[] truth, int[] predictions) {
        check(truth, predictions);
        int correct = 0;
        for (int index = 0; index < truth.length; index++) {
            if (truth[index] == predictions[index]) {
                correct++;
            }
        }
        return (double) correct / truth.length;
    }

    /** The unweighted mean over classes of {@code 2·precision·recall / (precision + recall)}. */
    public static double macroF1(int[] truth, int[] predictions, int classes) {
        check(truth, predictions);
        long[] truePositives = new long[classes];
        long[] predicted = new long[classes];
        long[] actual = new long[classes];
        for (int index = 0; index < truth.length; index++) {
            actual[truth[index]]++;
            predicted[predictions[index]]++;
            if (truth[index] == predictions[index]) {
                truePositives[truth[index]]++;
            }
        }
        double sum = 0;
        int counted = 0;
        for (int label = 0; label < classes; label++) {
            if (actual[label] == 0 && predicted[label] == 0) {
                continue;
            }
            counted++;
            double precision = predicted[label] == 0 ? 0 : (double) truePositives[label] / predicted[label];
            double recall = actual[label] == 0 ? 0 : (double) truePositives[label] / actual[label];
            sum += precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        }
        return counted == 0 ? 0 : sum / counted;
    }

    private static void check(int[] truth, int[] predictions) {
        if (truth.length != predictions.length || truth.length == 0) {
            throw new IllegalArgumentException(format("need as many predictions as true labels, and at least one: %d and %d", predictions.length, truth.length));
        }
    }
}
