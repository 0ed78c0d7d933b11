package dev.graft.it.peft;

import dev.graft.runtime.model.LlamaConfig;

import java.util.Map;

/**
 * An independent, deliberately plain implementation of Hugging Face's LlamaForCausalLM forward (eager attention,
 * float64 loops) used as the oracle for the DJL model. No DJL: every step is written out from the HF source.
 *
 * <p>A copy of the runtime's test oracle ({@code runtime/src/test/.../model/LlamaReference.java}, which this module
 * cannot see), changed in one way: it takes float64 weights, so that adapters merged by hand in float64 reach the
 * forward without rounding.
 */
final class LlamaReference {
    private final LlamaConfig config;
    private final Map<String, double[]> weights;

    LlamaReference(LlamaConfig config, Map<String, double[]> weights) {
        this.config = config;
        this.weights = weights;
    }

    /**
     * Logits {@code [batch][sequence][vocabulary]} for token ids and a 0/1 attention mask; positions are
     * {@code offset..offset+sequence−1}; {@code prefixKeys}/{@code prefixValues}, if not null, are per layer
     * {@code [kvHeads][n][headDim]} virtual keys/values placed before the real ones.
     */
    double[][][] logits(long[][] ids, int[][] mask, int positionOffset, double[][][][] prefixKeys, double[][][][] prefixValues) {
        int batch = ids.length;
        int sequence = ids[0].length;
        int hidden = config.hiddenSize();
        double[][][] result = new double[batch][][];
        for (int example = 0; example < batch; example++) {
            double[][] h = new double[sequence][];
            for (int position = 0; position < sequence; position++) {
                h[position] = row(weights.get("model.embed_tokens.weight"), (int) ids[example][position], hidden);
            }
            for (int layer = 0; layer < config.numLayers(); layer++) {
                String prefix = "model.layers." + layer;
                double[][] normed = rmsNorm(h, weights.get(prefix + ".input_layernorm.weight"));
                double[][] attended = attention(normed, mask[example], positionOffset, prefix,
                        prefixKeys == null ? null : prefixKeys[layer], prefixValues == null ? null : prefixValues[layer]);
                h = add(h, attended);
                double[][] normedHidden = rmsNorm(h, weights.get(prefix + ".post_attention_layernorm.weight"));
                double[][] gate = linear(normedHidden, prefix + ".mlp.gate_proj", config.intermediateSize());
                double[][] up = linear(normedHidden, prefix + ".mlp.up_proj", config.intermediateSize());
                for (int position = 0; position < sequence; position++) {
                    for (int unit = 0; unit < gate[position].length; unit++) {
                        double g = gate[position][unit];
                        gate[position][unit] = g / (1 + Math.exp(-g)) * up[position][unit];
                    }
                }
                h = add(h, linear(gate, prefix + ".mlp.down_proj", hidden));
            }
            h = rmsNorm(h, weights.get("model.norm.weight"));
            String head = config.tieWordEmbeddings() ? "model.embed_tokens" : "lm_head";
            result[example] = linear(h, head, config.vocabularySize());
        }
        return result;
    }

    private double[][] attention(double[][] x, int[] mask, int positionOffset, String prefix, double[][][] prefixKeys, double[][][] prefixValues) {
        int sequence = x.length;
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int headDim = config.headDim();
        double[][] q = linear(x, prefix + ".self_attn.q_proj", heads * headDim);
        double[][] k = linear(x, prefix + ".self_attn.k_proj", kvHeads * headDim);
        double[][] v = linear(x, prefix + ".self_attn.v_proj", kvHeads * headDim);
        int virtual = prefixKeys == null ? 0 : prefixKeys[0].length;
        for (int position = 0; position < sequence; position++) {
            rope(q[position], heads, headDim, position + positionOffset);
            rope(k[position], kvHeads, headDim, position + positionOffset);
        }
        double[][] output = new double[sequence][heads * headDim];
        for (int head = 0; head < heads; head++) {
            int kvHead = head / (heads / kvHeads);
            for (int query = 0; query < sequence; query++) {
                int keys = virtual + sequence;
                double[] scores = new double[keys];
                for (int key = 0; key < keys; key++) {
                    double dot = 0;
                    for (int dim = 0; dim < headDim; dim++) {
                        double keyValue = key < virtual ? prefixKeys[kvHead][key][dim] : k[key - virtual][kvHead * headDim + dim];
                        dot += q[query][head * headDim + dim] * keyValue;
                    }
                    boolean allowed = key < virtual || (key - virtual <= query && mask[key - virtual] == 1);
                    scores[key] = dot / Math.sqrt(headDim) + (allowed ? 0 : -Float.MAX_VALUE);
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double score : scores) {
                    max = Math.max(max, score);
                }
                double sum = 0;
                for (int key = 0; key < keys; key++) {
                    scores[key] = Math.exp(scores[key] - max);
                    sum += scores[key];
                }
                for (int key = 0; key < keys; key++) {
                    for (int dim = 0; dim < headDim; dim++) {
                        double value = key < virtual ? prefixValues[kvHead][key][dim] : v[key - virtual][kvHead * headDim + dim];
                        output[query][head * headDim + dim] += scores[key] / sum * value;
                    }
                }
            }
        }
        return linear(output, prefix + ".self_attn.o_proj", config.hiddenSize());
    }

    private void rope(double[] vector, int heads, int headDim, int position) {
        int half = headDim / 2;
        for (int head = 0; head < heads; head++) {
            double[] rotated = new double[headDim];
            for (int dim = 0; dim < headDim; dim++) {
                int index = dim % half;
                double inverseFrequency = (float) (1.0 / Math.pow(config.ropeTheta(), (2.0 * index) / headDim));
                double angle = position * inverseFrequency;
                double x = vector[head * headDim + dim];
                double partner = dim < half ? -vector[head * headDim + dim + half] : vector[head * headDim + dim - half];
                rotated[dim] = x * Math.cos(angle) + partner * Math.sin(angle);
            }
            System.arraycopy(rotated, 0, vector, head * headDim, headDim);
        }
    }

    private double[][] rmsNorm(double[][] x, double[] weight) {
        double[][] out = new double[x.length][];
        for (int position = 0; position < x.length; position++) {
            double squares = 0;
            for (double value : x[position]) {
                squares += value * value;
            }
            double scale = 1.0 / Math.sqrt(squares / x[position].length + config.rmsNormEps());
            out[position] = new double[x[position].length];
            for (int unit = 0; unit < x[position].length; unit++) {
                out[position][unit] = weight[unit] * x[position][unit] * scale;
            }
        }
        return out;
    }

    private double[][] linear(double[][] x, String module, int out) {
        double[] weight = weights.get(module + ".weight");
        double[] bias = weights.get(module + ".bias");
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

    private static double[][] add(double[][] a, double[][] b) {
        double[][] sum = new double[a.length][];
        for (int position = 0; position < a.length; position++) {
            sum[position] = new double[a[position].length];
            for (int unit = 0; unit < a[position].length; unit++) {
                sum[position][unit] = a[position][unit] + b[position][unit];
            }
        }
        return sum;
    }

    private static double[] row(double[] matrix, int row, int width) {
        double[] values = new double[width];
        for (int column = 0; column < width; column++) {
            values[column] = matrix[row * width + column];
        }
        return values;
    }
}
