package dev.graft.runtime.model;

import java.util.Map;

/**
 * An independent, deliberately plain implementation of Hugging Face's LlamaForCausalLM forward (eager attention,
 * float64 loops) used as the oracle for the DJL model. No DJL: every step is written out from the HF source.
 * Weights are float64, so adapters merged by hand in float64 reach the forward without rounding. Published in the
 * runtime's test-jar for the integration tests.
 */
public final class LlamaReference {
    private final LlamaConfig config;
    private final Map<String, double[]> weights;

    public LlamaReference(LlamaConfig config, Map<String, double[]> weights) {
        this.config = config;
        this.weights = weights;
    }

    /**
     * Logits {@code [batch][sequence][vocabulary]} for token ids and a 0/1 attention mask; positions are
     * {@code offset..offset+sequence−1}; {@code prefixKeys}/{@code prefixValues}, if not null, are per layer
     * {@code [kvHeads][n][headDim]} virtual keys/values placed before the real ones.
     */
    public double[][][] logits(long[][] ids, int[][] mask, int positionOffset, double[][][][] prefixKeys, double[][][][] prefixValues) {
        int batch = ids.length;
        int sequence = ids[0].length;
        int hidden = config.hiddenSize();
        double[][][] result = new double[batch][][];
        for (int example = 0; example < batch; example++) {
            double[][] h = new double[sequence][];
            for (int position = 0; position < sequence; position++) {
                h[position] = ReferenceMath.row(weights.get("model.embed_tokens.weight"), (int) ids[example][position], hidden);
            }
            for (int layer = 0; layer < config.numLayers(); layer++) {
                String prefix = "model.layers." + layer;
                double[][] normed = rmsNorm(h, weights.get(prefix + ".input_layernorm.weight"));
                double[][] attended = attention(normed, mask[example], positionOffset, prefix,
                        prefixKeys == null ? null : prefixKeys[layer], prefixValues == null ? null : prefixValues[layer]);
                h = ReferenceMath.add(h, attended);
                double[][] normedHidden = rmsNorm(h, weights.get(prefix + ".post_attention_layernorm.weight"));
                double[][] gate = linear(normedHidden, prefix + ".mlp.gate_proj", config.intermediateSize());
                double[][] up = linear(normedHidden, prefix + ".mlp.up_proj", config.intermediateSize());
                for (int position = 0; position < sequence; position++) {
                    for (int unit = 0; unit < gate[position].length; unit++) {
                        double g = gate[position][unit];
                        gate[position][unit] = g / (1 + Math.exp(-g)) * up[position][unit];
                    }
                }
                h = ReferenceMath.add(h, linear(gate, prefix + ".mlp.down_proj", hidden));
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
        for (int position = 0; position < sequence; position++) {
            rope(q[position], heads, headDim, position + positionOffset);
            rope(k[position], kvHeads, headDim, position + positionOffset);
        }
        double[][] output = ReferenceMath.attention(q, k, v, prefixKeys, prefixValues, heads, kvHeads, headDim, (query, key) -> key <= query && mask[key] == 1);
        return linear(output, prefix + ".self_attn.o_proj", config.hiddenSize());
    }

    private void rope(double[] vector, int heads, int headDim, int position) {
        int half = headDim / 2;
        for (int head = 0; head < heads; head++) {
            double[] rotated = new double[headDim];
            for (int dim = 0; dim < headDim; dim++) {
                int index = dim % half;
                double inverseFrequency = scaled((float) (1.0 / Math.pow(config.ropeTheta(), (2.0 * index) / headDim)));
                double angle = position * inverseFrequency;
                double x = vector[head * headDim + dim];
                double partner = dim < half ? -vector[head * headDim + dim + half] : vector[head * headDim + dim - half];
                rotated[dim] = x * Math.cos(angle) + partner * Math.sin(angle);
            }
            System.arraycopy(rotated, 0, vector, head * headDim, headDim);
        }
    }

    /** HF's {@code _compute_linear_scaling_rope_parameters} and {@code _compute_llama3_parameters}, step by step. */
    private double scaled(double inverseFrequency) {
        RopeScaling scaling = config.ropeScaling();
        double factor = scaling.factor();
        return switch (scaling.type()) {
            case NONE -> inverseFrequency;
            case LINEAR -> inverseFrequency / factor;
            case LLAMA3 -> {
                double oldContextLength = scaling.originalMaxPositionEmbeddings();
                double lowFrequencyWavelength = oldContextLength / scaling.lowFrequencyFactor();
                double highFrequencyWavelength = oldContextLength / scaling.highFrequencyFactor();
                double wavelength = 2 * Math.PI / inverseFrequency;
                double llama = wavelength > lowFrequencyWavelength ? inverseFrequency / factor : inverseFrequency;
                double smoothFactor = (oldContextLength / wavelength - scaling.lowFrequencyFactor()) / (scaling.highFrequencyFactor() - scaling.lowFrequencyFactor());
                double smoothed = (1 - smoothFactor) * llama / factor + smoothFactor * llama;
                boolean mediumFrequency = !(wavelength < highFrequencyWavelength) && !(wavelength > lowFrequencyWavelength);
                yield mediumFrequency ? smoothed : llama;
            }
        };
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
        return ReferenceMath.linear(x, weights.get(module + ".weight"), weights.get(module + ".bias"), out);
    }
}
