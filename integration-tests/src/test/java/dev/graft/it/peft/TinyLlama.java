package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The test model, {@link LlamaConfig#tiny()} (or a variant) with seeded random weights, twice: as Graft
 * {@link PeftModel}s and as float64 arrays for {@link LlamaReference}. Every model lives in a sub-manager of one
 * manager, closed with this fixture.
 */
final class TinyLlama implements AutoCloseable {
    /** What a test compares: logits within this absolute tolerance of PEFT's, as PEFT's own merge tests allow. */
    static final double TOLERANCE = 1e-4;

    /** Two sequences, the second left-padded, with tokens across the vocabulary. */
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long SEED = 20241206;

    private final LlamaConfig config;
    private final NDManager manager;

    private TinyLlama(LlamaConfig config) {
        this.config = requireNonNull(config, "config is null");
        this.manager = NDManager.newBaseManager();
    }

    /** {@link LlamaConfig#tiny()}: 2 layers, hidden 64, intermediate 128, 4 heads, 2 key/value heads, no biases. */
    static TinyLlama tiny() {
        return new TinyLlama(LlamaConfig.tiny());
    }

    /** The tiny shape with biases on every attention and MLP projection (as Qwen2-style checkpoints have). */
    static TinyLlama tinyWithBiases() {
        LlamaConfig tiny = LlamaConfig.tiny();
        return new TinyLlama(new LlamaConfig(tiny.vocabularySize(), tiny.hiddenSize(), tiny.intermediateSize(), tiny.numLayers(), tiny.numAttentionHeads(),
                tiny.numKeyValueHeads(), tiny.headDim(), tiny.rmsNormEps(), tiny.ropeTheta(), tiny.tieWordEmbeddings(), true, true));
    }

    LlamaConfig config() {
        return config;
    }

    /** A fresh Graft model with the seeded base weights and no adapter. */
    PeftModel newModel() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, modelManager, SEED), modelManager, null));
    }

    /** A fresh float64 copy of the seeded base weights, by Hugging Face key. */
    Map<String, double[]> baseWeights() {
        Map<String, double[]> weights = new LinkedHashMap<>();
        try (NDManager scratch = manager.newSubManager()) {
            LlamaWeights.random(config, scratch, SEED).forEach((key, array) -> {
                float[] values = array.toFloatArray();
                double[] widened = new double[values.length];
                for (int index = 0; index < values.length; index++) {
                    widened[index] = values[index];
                }
                weights.put(key, widened);
            });
        }
        return weights;
    }

    /** Graft's logits for the test batch, flat {@code [batch][sequence][vocabulary]}. */
    float[] logits(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(IDS), batch.create(MASK));
            NDArray logits = model.forward(new ParameterStore(batch, false), inputs, false).singletonOrThrow();
            return logits.toFloatArray();
        }
    }

    /** The reference logits for the test batch under {@code weights}. */
    double[][][] referenceLogits(Map<String, double[]> weights) {
        return new LlamaReference(config, weights).logits(IDS, MASK, 0, null, null);
    }

    /** The largest absolute difference between {@code actual} and {@code expected} over the real (unpadded) positions. */
    static double maxDifference(float[] actual, double[][][] expected) {
        int sequence = expected[0].length;
        int vocabulary = expected[0][0].length;
        assertThat(actual).hasSize(expected.length * sequence * vocabulary);
        double[][][] shaped = new double[expected.length][sequence][vocabulary];
        for (int index = 0; index < actual.length; index++) {
            shaped[index / (sequence * vocabulary)][index / vocabulary % sequence][index % vocabulary] = actual[index];
        }
        return maxDifference(shaped, expected);
    }

    /** The largest absolute difference between two sets of logits over the real (unpadded) positions. */
    static double maxDifference(double[][][] first, double[][][] second) {
        double largest = 0;
        for (int example = 0; example < first.length; example++) {
            for (int position = 0; position < first[example].length; position++) {
                if (MASK[example][position] == 0) {
                    continue;
                }
                for (int token = 0; token < first[example][position].length; token++) {
                    largest = Math.max(largest, Math.abs(first[example][position][token] - second[example][position][token]));
                }
            }
        }
        return largest;
    }

    @Override
    public void close() {
        manager.close();
    }
}
