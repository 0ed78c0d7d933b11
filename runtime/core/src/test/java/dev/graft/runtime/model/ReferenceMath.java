package dev.graft.runtime.model;

/** Float64 building blocks shared by the plain-Java reference models: no DJL, every step written out. */
final class ReferenceMath {
    private static final double TWO_OVER_ROOT_PI = 2.0 / Math.sqrt(Math.PI);

    private ReferenceMath() {}

    /** {@code x·Wᵀ + b} for {@code x} {@code [positions][in]}, {@code weight} row-major {@code (out, in)}, {@code bias} {@code (out)} or null. */
    static double[][] linear(double[][] x, double[] weight, double[] bias, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int position = 0; position < x.length; position++) {
            for (int row = 0; row < out; row++) {
                double sum = bias == null ? 0 : bias[row];
                for (int column = 0; column < in; column++) {
                    sum += x[position][column] * weight[row * in + column];
                }
                y[position][row] = sum;
            }
        }
        return y;
    }

    static double[][] add(double[][] a, double[][] b) {
        double[][] sum = new double[a.length][];
        for (int position = 0; position < a.length; position++) {
            sum[position] = new double[a[position].length];
            for (int unit = 0; unit < a[position].length; unit++) {
                sum[position][unit] = a[position][unit] + b[position][unit];
            }
        }
        return sum;
    }

    /** Row {@code row} of a row-major matrix {@code width} wide. */
    static double[] row(double[] matrix, int row, int width) {
        double[] values = new double[width];
        for (int column = 0; column < width; column++) {
            values[column] = matrix[row * width + column];
        }
        return values;
    }

    /** Replaces {@code scores} by their softmax (shifted by the maximum, so large scores do not overflow). */
    static void softmaxInPlace(double[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (double score : scores) {
            max = Math.max(max, score);
        }
        double sum = 0;
        for (int index = 0; index < scores.length; index++) {
            scores[index] = Math.exp(scores[index] - max);
            sum += scores[index];
        }
        for (int index = 0; index < scores.length; index++) {
            scores[index] /= sum;
        }
    }

    /** Whether query {@code query} may see real key {@code key} (both counted without the virtual keys). */
    interface Visibility {
        boolean allows(int query, int key);
    }

    /**
     * Multi-head attention as Hugging Face's eager attention computes it: for each head, {@code softmax(q·kᵀ/√d +
     * mask)·v}, the masked keys receiving the float32 minimum. Virtual (prefix) keys and values, if any, come
     * first and are always visible; with grouped-query attention head {@code h} reads key/value head
     * {@code h / (heads / kvHeads)}.
     *
     * @param q queries {@code [sequence][heads·headDim]}
     * @param k keys {@code [sequence][kvHeads·headDim]}
     * @param v values, like {@code k}
     * @param prefixKeys {@code [kvHeads][n][headDim]} or null
     * @param prefixValues {@code [kvHeads][n][headDim]} or null
     * @return the context {@code [sequence][heads·headDim]}
     */
    static double[][] attention(double[][] q, double[][] k, double[][] v, double[][][] prefixKeys, double[][][] prefixValues, int heads, int kvHeads, int headDim,
            Visibility visibility) {
        int sequence = q.length;
        int virtual = prefixKeys == null ? 0 : prefixKeys[0].length;
        int keys = virtual + sequence;
        double[][] output = new double[sequence][heads * headDim];
        for (int head = 0; head < heads; head++) {
            int kvHead = head / (heads / kvHeads);
            for (int query = 0; query < sequence; query++) {
                double[] scores = new double[keys];
                for (int key = 0; key < keys; key++) {
                    double dot = 0;
                    for (int dim = 0; dim < headDim; dim++) {
                        double keyValue = key < virtual ? prefixKeys[kvHead][key][dim] : k[key - virtual][kvHead * headDim + dim];
                        dot += q[query][head * headDim + dim] * keyValue;
                    }
                    boolean allowed = key < virtual || visibility.allows(query, key - virtual);
                    scores[key] = dot / Math.sqrt(headDim) + (allowed ? 0 : -Float.MAX_VALUE);
                }
                softmaxInPlace(scores);
                for (int key = 0; key < keys; key++) {
                    for (int dim = 0; dim < headDim; dim++) {
                        double value = key < virtual ? prefixValues[kvHead][key][dim] : v[key - virtual][kvHead * headDim + dim];
                        output[query][head * headDim + dim] += scores[key] * value;
                    }
                }
            }
        }
        return output;
    }

    /** {@code torch.nn.LayerNorm} over the last axis: biased variance, {@code eps} inside the square root. */
    static double[][] layerNorm(double[][] x, double[] weight, double[] bias, double eps) {
        double[][] out = new double[x.length][];
        for (int position = 0; position < x.length; position++) {
            int width = x[position].length;
            double mean = 0;
            for (double value : x[position]) {
                mean += value;
            }
            mean /= width;
            double variance = 0;
            for (double value : x[position]) {
                variance += (value - mean) * (value - mean);
            }
            variance /= width;
            double scale = 1.0 / Math.sqrt(variance + eps);
            out[position] = new double[width];
            for (int unit = 0; unit < width; unit++) {
                out[position][unit] = (x[position][unit] - mean) * scale * weight[unit] + bias[unit];
            }
        }
        return out;
    }

    /**
     * The error function to about 1e-15: its Maclaurin series below 3, the continued fraction of {@code erfc}
     * from 3 on ({@link Math} has no erf).
     */
    static double erf(double x) {
        double magnitude = Math.abs(x);
        if (magnitude < 3) {
            double term = x;
            double sum = x;
            for (int n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
                term *= -x * x / n;
                sum += term / (2 * n + 1);
            }
            return TWO_OVER_ROOT_PI * sum;
        }
        double fraction = magnitude;
        for (int k = 120; k >= 1; k--) {
            fraction = magnitude + (k / 2.0) / fraction;
        }
        double complement = Math.exp(-magnitude * magnitude) / Math.sqrt(Math.PI) / fraction;
        return Math.signum(x) * (1 - complement);
    }

    /** Exact GELU, {@code x·Φ(x) = x/2·(1 + erf(x/√2))}, as {@code torch.nn.functional.gelu} without approximation. */
    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** GELU's tanh approximation ({@code approximate='tanh'}), which BERT does not use: tests show they can tell the two apart. */
    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }
}
