package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.LinkedHashMap;
import java.util.Map;

/** The Hugging Face state-dict layout of a Llama model, and seeded random weights in that layout. */
public final class LlamaWeights {
    private LlamaWeights() {}

    /** Every key and its shape, in Hugging Face order. */
    public static Map<String, Shape> shapes(LlamaConfig config) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        int hidden = config.hiddenSize();
        int queryWidth = config.numAttentionHeads() * config.headDim();
        int keyValueWidth = config.numKeyValueHeads() * config.headDim();
        shapes.put("model.embed_tokens.weight", new Shape(config.vocabularySize(), hidden));
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String prefix = "model.layers." + layer;
            ModelWeights.linear(shapes, prefix + ".self_attn.q_proj", queryWidth, hidden, config.attentionBias());
            ModelWeights.linear(shapes, prefix + ".self_attn.k_proj", keyValueWidth, hidden, config.attentionBias());
            ModelWeights.linear(shapes, prefix + ".self_attn.v_proj", keyValueWidth, hidden, config.attentionBias());
            ModelWeights.linear(shapes, prefix + ".self_attn.o_proj", hidden, queryWidth, config.attentionBias());
            ModelWeights.linear(shapes, prefix + ".mlp.gate_proj", config.intermediateSize(), hidden, config.mlpBias());
            ModelWeights.linear(shapes, prefix + ".mlp.up_proj", config.intermediateSize(), hidden, config.mlpBias());
            ModelWeights.linear(shapes, prefix + ".mlp.down_proj", hidden, config.intermediateSize(), config.mlpBias());
            shapes.put(prefix + ".input_layernorm.weight", new Shape(hidden));
            shapes.put(prefix + ".post_attention_layernorm.weight", new Shape(hidden));
        }
        shapes.put("model.norm.weight", new Shape(hidden));
        if (!config.tieWordEmbeddings()) {
            shapes.put("lm_head.weight", new Shape(config.vocabularySize(), hidden));
        }
        return shapes;
    }

    /**
     * Seeded random float32 weights: N(0, 0.02) for matrices and biases, 1 + N(0, 0.1) for norm weights (so
     * tests notice a norm applied wrongly). The same seed gives the same values on every machine.
     */
    public static Map<String, NDArray> random(LlamaConfig config, NDManager manager, long seed) {
        return ModelWeights.random(shapes(config), key -> key.endsWith("norm.weight"), manager, seed);
    }
}
