package dev.graft.plugin.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.spi.PrefixKeyValues;

import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestPrefixEncoder {
    private static final int TOKENS = 3;
    private static final int LAYERS = 2;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 4;
    private static final int WIDTH = KV_HEADS * HEAD_DIM;
    private static final int FLAT_WIDTH = LAYERS * 2 * WIDTH;

    private NDManager manager;
    private NDManager modelManager;
    private NDManager batchManager;
    private ParameterStore parameterStore;

    @BeforeEach
    void openManagers() {
        Engine.getInstance().setRandomSeed(3);
        manager = NDManager.newBaseManager();
        modelManager = manager.newSubManager();
        batchManager = manager.newSubManager();
        parameterStore = new ParameterStore(batchManager, false);
    }

    @AfterEach
    void closeManagers() {
        manager.close();
    }

    @Test
    void testKeysAndValuesFollowPeftsViewAndPermute() {
        PrefixEncoder encoder = encoder(configuration(TOKENS, false, null, false));
        float[] flat = new float[TOKENS * FLAT_WIDTH];
        for (int index = 0; index < flat.length; index++) {
            flat[index] = index;
        }
        encoder.parameters().get("prompt_embeddings").getArray().set(flat);
        double[][][][] permuted = peftPastKeyValues(flat);
        NDArray like = batchManager.zeros(new Shape(1, 1, 64));

        for (int layer = 0; layer < LAYERS; layer++) {
            PrefixKeyValues keyValues = encoder.keyValues(parameterStore, layer, like, false);
            assertThat(keyValues.keys().getShape()).isEqualTo(new Shape(KV_HEADS, TOKENS, HEAD_DIM));
            assertThat(keyValues.values().getShape()).isEqualTo(new Shape(KV_HEADS, TOKENS, HEAD_DIM));
            assertThat(keyValues.keys().toFloatArray()).as("keys of layer %d", layer).containsExactly(flatten(permuted[2 * layer]));
            assertThat(keyValues.values().toFloatArray()).as("values of layer %d", layer).containsExactly(flatten(permuted[2 * layer + 1]));
        }
        // Layer 1's value for kv head 1, token 2, dim 3 is column (3·2 + 1)·4 + 3 = 31 of row 2: 2·32 + 31.
        assertThat(encoder.keyValues(parameterStore, 1, like, false).values().getFloat(1, 2, 3)).isEqualTo(95f);
    }

    @Test
    void testProjectionByHand() {
        PrefixEncoder encoder = new PrefixEncoder(configuration(2, true, 1, false), 1, 1, 2);
        initialize(encoder);
        // d = 2, h = 1, L = 1: embedding (2, 2), Linear(2, 1), Linear(1, 4).
        set(encoder, PrefixEncoder.EMBEDDING, 1, 2, -1, 0.5f);
        set(encoder, PrefixEncoder.HIDDEN_WEIGHT, 0.5f, -1);
        set(encoder, PrefixEncoder.HIDDEN_BIAS, 0.25f);
        set(encoder, PrefixEncoder.OUTPUT_WEIGHT, 1, -2, 3, 0.5f);
        set(encoder, PrefixEncoder.OUTPUT_BIAS, 0, 1, -1, 2);

        PrefixKeyValues keyValues = encoder.keyValues(parameterStore, 0, batchManager.zeros(new Shape(1, 1, 2)), false);

        double first = Math.tanh(0.5 * 1 - 1 * 2 + 0.25);
        double second = Math.tanh(0.5 * -1 - 1 * 0.5 + 0.25);
        // keys (1 head, 2 tokens, 2 dims) are output columns 0 and 1, values columns 2 and 3.
        assertThat(keyValues.keys().toFloatArray()).containsExactly(
                new float[] {(float) first, (float) (1 - 2 * first), (float) second, (float) (1 - 2 * second)}, within(1e-6f));
        assertThat(keyValues.values().toFloatArray()).containsExactly(
                new float[] {(float) (3 * first - 1), (float) (0.5 * first + 2), (float) (3 * second - 1), (float) (0.5 * second + 2)}, within(1e-6f));
    }

    @Test
    void testFlatPrefixOfAProjectionIsWhatForwardUses() {
        PrefixEncoder encoder = encoder(configuration(TOKENS, true, 5, false));
        NDArray flat = encoder.flatPrefix(batchManager);
        NDArray like = batchManager.zeros(new Shape(1, 1, 64));

        assertThat(flat.getShape()).isEqualTo(new Shape(TOKENS, FLAT_WIDTH));
        assertThat(flat.getManager()).isSameAs(batchManager);
        PrefixEncoder flatEncoder = encoder(configuration(TOKENS, false, null, false));
        flatEncoder.load(Map.of("prompt_embeddings", flat));
        for (int layer = 0; layer < LAYERS; layer++) {
            assertThat(flatEncoder.keyValues(parameterStore, layer, like, false).keys().toFloatArray())
                    .containsExactly(encoder.keyValues(parameterStore, layer, like, false).keys().toFloatArray());
            assertThat(flatEncoder.keyValues(parameterStore, layer, like, false).values().toFloatArray())
                    .containsExactly(encoder.keyValues(parameterStore, layer, like, false).values().toFloatArray());
        }
    }

    @Test
    void testFlatInitializationIsAStandardNormal() {
        PrefixEncoder encoder = new PrefixEncoder(configuration(20, false, null, false), 4, 4, 16);
        initialize(encoder);
        float[] flat = values(encoder, "prompt_embeddings");

        assertThat(flat).hasSize(20 * 4 * 2 * 64);
        assertThat(mean(flat)).isCloseTo(0, within(0.03));
        assertThat(standardDeviation(flat)).isCloseTo(1, within(0.03));
        assertThat(encoder.parameters().keySet()).containsExactly("prompt_embeddings");
        assertThat(encoder.trainableParameterCount()).isEqualTo(20L * 4 * 2 * 64);
    }

    @Test
    void testProjectionInitializationIsPeftsEmbeddingAndLinearDefaults() {
        PrefixEncoder encoder = new PrefixEncoder(configuration(20, true, 64, false), 4, 4, 16);
        initialize(encoder);
        double inputBound = 1 / Math.sqrt(64);

        assertThat(encoder.parameters().keySet()).containsExactly(PrefixEncoder.EMBEDDING, PrefixEncoder.HIDDEN_WEIGHT, PrefixEncoder.HIDDEN_BIAS,
                PrefixEncoder.OUTPUT_WEIGHT, PrefixEncoder.OUTPUT_BIAS, "prompt_embeddings");
        assertThat(standardDeviation(values(encoder, PrefixEncoder.EMBEDDING))).isCloseTo(1, within(0.1));
        assertThat(maximumAbsolute(values(encoder, PrefixEncoder.HIDDEN_WEIGHT))).isLessThanOrEqualTo(inputBound).isGreaterThan(0.95 * inputBound);
        assertThat(maximumAbsolute(values(encoder, PrefixEncoder.OUTPUT_WEIGHT))).isLessThanOrEqualTo(inputBound).isGreaterThan(0.95 * inputBound);
        assertThat(maximumAbsolute(values(encoder, PrefixEncoder.OUTPUT_BIAS))).isLessThanOrEqualTo(inputBound).isGreaterThan(0.5 * inputBound);
        assertThat(encoder.parameters().get("prompt_embeddings").requiresGradient()).as("the holder of a loaded flat prefix").isFalse();
        // 20·64 + (64·64 + 64) + (64·512 + 512)
        assertThat(encoder.trainableParameterCount()).isEqualTo(1_280L + 4_160L + 33_280L);
    }

    @Test
    void testZeroInitialization() {
        PrefixEncoder flat = encoder(configuration(TOKENS, false, null, true));
        assertThat(values(flat, "prompt_embeddings")).containsOnly(0f);

        PrefixEncoder projection = encoder(configuration(TOKENS, true, null, true));
        assertThat(values(projection, PrefixEncoder.OUTPUT_WEIGHT)).containsOnly(0f);
        assertThat(values(projection, PrefixEncoder.OUTPUT_BIAS)).containsOnly(0f);
        assertThat(maximumAbsolute(values(projection, PrefixEncoder.HIDDEN_WEIGHT))).isPositive();
        assertThat(encoder(configuration(TOKENS, true, null, true)).flatPrefix(batchManager).toFloatArray()).containsOnly(0f);
    }

    @Test
    void testLoadIntoAProjectionFreezesTheUnusedMlp() {
        PrefixEncoder encoder = encoder(configuration(TOKENS, true, null, false));
        NDArray loaded = batchManager.randomNormal(new Shape(TOKENS, FLAT_WIDTH));

        encoder.load(Map.of("prompt_embeddings", loaded));

        assertThat(encoder.usesLoadedFlatPrefix()).isTrue();
        assertThat(encoder.trainableParameterCount()).isZero();
        assertThat(encoder.flatPrefix(batchManager).toFloatArray()).containsExactly(loaded.toFloatArray());
        NDArray keys = encoder.keyValues(parameterStore, 1, batchManager.zeros(new Shape(1, 1, 64)), false).keys();
        assertThat(keys.getFloat(0, 0, 0)).isEqualTo(loaded.getFloat(0, 2 * WIDTH));
    }

    @Test
    void testLoadRejectsWrongShapesAndKeys() {
        PrefixEncoder encoder = encoder(configuration(TOKENS, false, null, false));

        assertThatThrownBy(() -> encoder.load(Map.of("prompt_embeddings", batchManager.zeros(new Shape(TOKENS, FLAT_WIDTH + 1)))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shared state: checkpoint key 'prompt_embeddings' has shape (3, 33), expected (3, 32)");
        assertThatThrownBy(() -> encoder.load(Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shared state: checkpoint key 'prompt_embeddings' is missing (expected shape (3, 32))");
        assertThatThrownBy(() -> encoder.load(Map.of("prompt_encoder.embedding.weight", batchManager.zeros(new Shape(TOKENS, WIDTH)))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shared state: unexpected checkpoint keys [prompt_encoder.embedding.weight]; expected only [prompt_embeddings]");
    }

    @Test
    void testKeyValuesKeepOnlyTheirResults() {
        for (boolean projection : new boolean[] {false, true}) {
            PrefixEncoder encoder = encoder(configuration(TOKENS, projection, null, false));
            NDManager capped = manager.newSubManager();
            NDArray like = capped.zeros(new Shape(1, 1, 64));
            modelManager.cap();
            int before = ((BaseNDManager) capped).getManagedArrays().size();

            PrefixKeyValues keyValues = encoder.keyValues(new ParameterStore(capped, false), 1, like, true);

            assertThat(keyValues.keys().getManager()).isSameAs(capped);
            assertThat(((BaseNDManager) capped).getManagedArrays()).as("projection %s", projection).hasSize(before + 2);
            assertThat(encoder.parameters().get("prompt_embeddings").getArray().getManager()).isSameAs(modelManager);
            modelManager = manager.newSubManager();
        }
    }

    @Test
    void testRejectsLayersOutsideThePrefix() {
        PrefixEncoder encoder = encoder(configuration(TOKENS, false, null, false));
        assertThatThrownBy(() -> encoder.keyValues(parameterStore, 2, batchManager.zeros(new Shape(1)), false))
                .hasMessage("prefix covers layers 0 to 1, not layer 2");
    }

    /**
     * PEFT's {@code get_prompt} for batch 1, written out: view the flat prefix as {@code (n, 2L, kvHeads, headDim)},
     * permute with {@code [2, 0, 3, 1, 4]} to {@code (2L, batch, kvHeads, n, headDim)}; returns {@code [2L][kvHeads][n][headDim]}.
     */
    private static double[][][][] peftPastKeyValues(float[] flat) {
        double[][][][] permuted = new double[2 * LAYERS][KV_HEADS][TOKENS][HEAD_DIM];
        for (int token = 0; token < TOKENS; token++) {
            for (int stream = 0; stream < 2 * LAYERS; stream++) {
                for (int head = 0; head < KV_HEADS; head++) {
                    for (int dim = 0; dim < HEAD_DIM; dim++) {
                        int viewIndex = ((token * 2 * LAYERS + stream) * KV_HEADS + head) * HEAD_DIM + dim;
                        permuted[stream][head][token][dim] = flat[viewIndex];
                    }
                }
            }
        }
        return permuted;
    }

    private static float[] flatten(double[][][] heads) {
        float[] flat = new float[KV_HEADS * TOKENS * HEAD_DIM];
        int index = 0;
        for (double[][] head : heads) {
            for (double[] token : head) {
                for (double value : token) {
                    flat[index++] = (float) value;
                }
            }
        }
        return flat;
    }

    private PrefixEncoder encoder(PrefixConfiguration configuration) {
        PrefixEncoder encoder = new PrefixEncoder(configuration, LAYERS, KV_HEADS, HEAD_DIM);
        initialize(encoder);
        return encoder;
    }

    private void initialize(PrefixEncoder encoder) {
        for (Parameter parameter : encoder.parameters().values()) {
            parameter.initialize(modelManager, DataType.FLOAT32);
        }
    }

    private static void set(PrefixEncoder encoder, String name, float... values) {
        encoder.parameters().get(name).getArray().set(values);
    }

    private static float[] values(PrefixEncoder encoder, String name) {
        return encoder.parameters().get(name).getArray().toFloatArray();
    }

    private static double maximumAbsolute(float[] values) {
        double maximum = 0;
        for (float value : values) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        return maximum;
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        return sum / values.length;
    }

    private static double standardDeviation(float[] values) {
        double mean = mean(values);
        double squares = 0;
        for (float value : values) {
            squares += (value - mean) * (value - mean);
        }
        return Math.sqrt(squares / values.length);
    }

    private static PrefixConfiguration configuration(int tokens, boolean projection, Integer encoderHiddenSize, boolean zeroInit) {
        return new PrefixConfiguration(tokens, projection, encoderHiddenSize, zeroInit ? "zero" : null, null, null, null, null);
    }
}
