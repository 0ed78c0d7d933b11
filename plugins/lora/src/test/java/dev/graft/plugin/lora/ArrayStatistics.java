package dev.graft.plugin.lora;

/** Summary statistics of float arrays, for checks on initializations. */
final class ArrayStatistics {
    private ArrayStatistics() {}

    static double maximumAbsolute(float[] values) {
        double maximum = 0;
        for (float value : values) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        return maximum;
    }

    static double mean(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        return sum / values.length;
    }

    /** The population standard deviation. */
    static double standardDeviation(float[] values) {
        double mean = mean(values);
        double sum = 0;
        for (float value : values) {
            sum += (value - mean) * (value - mean);
        }
        return Math.sqrt(sum / values.length);
    }
}
