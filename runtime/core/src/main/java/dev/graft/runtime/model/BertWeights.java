package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.LinkedHashMap;
import java.util.Map;

/** The Hugging Face state-dict layout of a {@code BertModel}, and seeded random weights in that layout. */
public final class BertWeights {
    private BertWeights() {}

    /** Every key and its shape, in Hugging Face order (buffers such as {@code embeddings.position_ids} excluded). */
    public static Map<String, Shape> shapes(BertConfig config) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        int hidden = config.hiddenSize();
        shapes.put("embeddings.word_embeddings.weight", new Shape(config.vocabularySize(), hidden));
        shapes.put("embeddings.position_embeddings.weight", new Shape(config.maxPositionEmbeddings(), hidden));
        shapes.put("embeddings.token_type_embeddings.weight", new Shape(config.typeVocabularySize(), hidden));
        layerNorm(shapes, "embeddings.LayerNorm", hidden);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String prefix = "encoder.layer." + layer;
            ModelWeights.linear(shapes, prefix + ".attention.self.query", hidden, hidden, true);
            ModelWeights.linear(shapes, prefix + ".attention.self.key", hidden, hidden, true);
            ModelWeights.linear(shapes, prefix + ".attention.self.value", hidden, hidden, true);
            ModelWeights.linear(shapes, prefix + ".attention.output.dense", hidden, hidden, true);
            layerNorm(shapes, prefix + ".attention.output.LayerNorm", hidden);
            ModelWeights.linear(shapes, prefix + ".intermediate.dense", config.intermediateSize(), hidden, true);
            ModelWeights.linear(shapes, prefix + ".output.dense", hidden, config.intermediateSize(), true);
            layerNorm(shapes, prefix + ".output.LayerNorm", hidden);
        }
        if (config.addPoolingLayer()) {
            ModelWeights.linear(shapes, "pooler.dense", hidden, hidden, true);
        }
        return shapes;
    }

    private static void layerNorm(Map<String, Shape> shapes, String name, int hidden) {
        shapes.put(name + ".weight", new Shape(hidden));
        shapes.put(name + ".bias", new Shape(hidden));
    }

    /**
     * Seeded random float32 weights: N(0, 0.02) for matrices, embeddings and biases, 1 + N(0, 0.1) for LayerNorm
     * weights. The same seed gives the same values on every machine.
     */
    public static Map<String, NDArray> random(BertConfig config, NDManager manager, long seed) {
        return ModelWeights.random(shapes(config), key -> key.endsWith("LayerNorm.weight"), manager, seed);
    }
}
