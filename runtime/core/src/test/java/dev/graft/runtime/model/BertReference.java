package dev.graft.runtime.model;

import static dev.graft.runtime.model.ReferenceMath.add;
import static dev.graft.runtime.model.ReferenceMath.layerNorm;
import static dev.graft.runtime.model.ReferenceMath.row;

import java.util.Map;

/**
 * An independent, deliberately plain implementation of Hugging Face's {@code BertModel} forward (float64 loops),
 * with what PEFT feeds it: virtual prompt tokens as {@code inputs_embeds}, prefix keys/values as
 * {@code past_key_values}. The oracle for the DJL model. No DJL: every step is written out from the HF source.
 */
final class BertReference {
    private final BertConfig config;
    private final Map<String, double[]> weights;

    BertReference(BertConfig config, Map<String, double[]> weights) {
        this.config = config;
        this.weights = weights;
    }

    /** {@code last_hidden_state} {@code [batch][sequence][hidden]} (real positions only) and {@code pooler_output} {@code [batch][hidden]}. */
    record Output(double[][][] lastHiddenState, double[][] pooled) {}

    /**
     * What PEFT adds; every field may be null.
     *
     * @param prompt virtual token embeddings {@code [n][hidden]}
     * @param prefixKeys per layer {@code [heads][n][headDim]}
     * @param prefixValues per layer {@code [heads][n][headDim]}
     * @param sublayer {@code {a, b}}: every sublayer output {@code h} becomes {@code h + a·h + b·x_in}
     */
    record Additions(double[][] prompt, double[][][][] prefixKeys, double[][][][] prefixValues, double[] sublayer) {
        static Additions none() {
            return new Additions(null, null, null, null);
        }
    }

    /**
     * @param ids {@code [batch][sequence]}
     * @param mask 0/1 {@code [batch][sequence]}
     * @param types token types {@code [batch][sequence]}
     * @param positions {@code [batch][sequence]}, or null for Hugging Face's default
     */
    Output forward(long[][] ids, int[][] mask, long[][] types, long[][] positions, Additions additions) {
        int batch = ids.length;
        int sequence = ids[0].length;
        int hidden = config.hiddenSize();
        int prompt = additions.prompt() == null ? 0 : additions.prompt().length;
        int prefix = additions.prefixKeys() == null ? 0 : additions.prefixKeys()[0][0].length;
        int total = prompt + sequence;
        double[][][] lastHiddenState = new double[batch][][];
        double[][] pooled = new double[batch][];
        for (int example = 0; example < batch; example++) {
            double[][] h = new double[total][];
            int[] fullMask = new int[total];
            for (int position = 0; position < total; position++) {
                boolean virtual = position < prompt;
                double[] word = virtual ? additions.prompt()[position].clone() : row(weights.get("embeddings.word_embeddings.weight"), (int) ids[example][position - prompt], hidden);
                int type = virtual ? 0 : (int) types[example][position - prompt];
                int place = virtual || positions == null ? prefix + position : (int) positions[example][position - prompt] + prefix + prompt;
                double[] typeRow = row(weights.get("embeddings.token_type_embeddings.weight"), type, hidden);
                double[] positionRow = row(weights.get("embeddings.position_embeddings.weight"), place, hidden);
                for (int unit = 0; unit < hidden; unit++) {
                    word[unit] = word[unit] + typeRow[unit] + positionRow[unit];
                }
                h[position] = word;
                fullMask[position] = virtual ? 1 : mask[example][position - prompt];
            }
            h = norm(h, "embeddings.LayerNorm");
            for (int layer = 0; layer < config.numLayers(); layer++) {
                String name = "encoder.layer." + layer;
                double[][] context = attention(h, fullMask, name + ".attention.self",
                        additions.prefixKeys() == null ? null : additions.prefixKeys()[layer], additions.prefixValues() == null ? null : additions.prefixValues()[layer]);
                double[][] attended = sublayer(h, linear(context, name + ".attention.output.dense", hidden), additions.sublayer());
                double[][] normed = norm(add(attended, h), name + ".attention.output.LayerNorm");
                double[][] intermediate = linear(normed, name + ".intermediate.dense", config.intermediateSize());
                for (double[] position : intermediate) {
                    for (int unit = 0; unit < position.length; unit++) {
                        position[unit] = ReferenceMath.gelu(position[unit]);
                    }
                }
                double[][] fed = sublayer(normed, linear(intermediate, name + ".output.dense", hidden), additions.sublayer());
                h = norm(add(fed, normed), name + ".output.LayerNorm");
            }
            lastHiddenState[example] = java.util.Arrays.copyOfRange(h, prompt, total);
            if (config.addPoolingLayer()) {
                double[] first = linear(new double[][] {h[0]}, "pooler.dense", hidden)[0];
                for (int unit = 0; unit < hidden; unit++) {
                    first[unit] = Math.tanh(first[unit]);
                }
                pooled[example] = first;
            }
        }
        return new Output(lastHiddenState, pooled);
    }

    private double[][] attention(double[][] x, int[] mask, String name, double[][][] prefixKeys, double[][][] prefixValues) {
        int hidden = config.hiddenSize();
        double[][] q = linear(x, name + ".query", hidden);
        double[][] k = linear(x, name + ".key", hidden);
        double[][] v = linear(x, name + ".value", hidden);
        int heads = config.numAttentionHeads();
        return ReferenceMath.attention(q, k, v, prefixKeys, prefixValues, heads, heads, config.headDim(), (query, key) -> mask[key] == 1);
    }

    private static double[][] sublayer(double[][] input, double[][] output, double[] coefficients) {
        if (coefficients == null) {
            return output;
        }
        double[][] result = new double[output.length][];
        for (int position = 0; position < output.length; position++) {
            result[position] = new double[output[position].length];
            for (int unit = 0; unit < output[position].length; unit++) {
                result[position][unit] = output[position][unit] + coefficients[0] * output[position][unit] + coefficients[1] * input[position][unit];
            }
        }
        return result;
    }

    private double[][] norm(double[][] x, String module) {
        return layerNorm(x, weights.get(module + ".weight"), weights.get(module + ".bias"), config.layerNormEps());
    }

    private double[][] linear(double[][] x, String module, int out) {
        return ReferenceMath.linear(x, weights.get(module + ".weight"), weights.get(module + ".bias"), out);
    }
}
