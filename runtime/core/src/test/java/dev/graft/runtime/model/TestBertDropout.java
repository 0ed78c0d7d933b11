package dev.graft.runtime.model;

import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * BERT's own dropout ({@code hidden_dropout_prob}, {@code attention_probs_dropout_prob}) applies in training only, as
 * in Hugging Face's model: inference is the reference output whatever the probabilities, and a training pass with
 * both at 0 is the inference pass.
 */
final class TestBertDropout {
    private static final long[][] IDS = {{2, 17, 99, 3, 42, 7, 1}, {2, 64, 12, 55, 1, 0, 0}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0, 0}};

    @Test
    void testInferenceIgnoresDropoutAndTrainingWithoutItIsInference() {
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] reference = forward(BertConfig.tiny(), manager, false, 0);
            assertThat(maximumDifference(forward(BertConfig.tiny().withDropout(0.5, 0.5), manager, false, 0), reference)).isZero();
            assertThat(maximumDifference(forward(BertConfig.tiny(), manager, true, 0), reference)).isLessThan(1e-6);
        }
    }

    @Test
    void testEachDropoutChangesTrainingOutputsReproduciblyUnderASeed() {
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] reference = forward(BertConfig.tiny(), manager, false, 0);
            for (BertConfig config : new BertConfig[] {BertConfig.tiny().withDropout(0.5, 0), BertConfig.tiny().withDropout(0, 0.5)}) {
                float[] first = forward(config, manager, true, 7);
                float[] again = forward(config, manager, true, 7);
                float[] otherSeed = forward(config, manager, true, 8);
                assertThat(maximumDifference(first, reference)).as("%s against no dropout", config).isGreaterThan(1e-2);
                assertThat(maximumDifference(first, again)).as("%s under the same seed", config).isZero();
                assertThat(maximumDifference(first, otherSeed)).as("%s under another seed", config).isGreaterThan(1e-2);
            }
        }
    }

    @Test
    void testProbabilitiesOutsideZeroToOneAreRefused() {
        assertThatThrownBy(() -> BertConfig.tiny().withDropout(1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("hidden_dropout_prob (1.0) and attention_probs_dropout_prob (0.0) must be in [0, 1)");
        assertThatThrownBy(() -> BertConfig.tiny().withDropout(0, -0.1)).isInstanceOf(IllegalArgumentException.class);
    }

    /** The last hidden state of the tiny model with weights from seed 42, training or not, after seeding PyTorch's generator. */
    private static float[] forward(BertConfig config, NDManager manager, boolean training, int seed) {
        Map<String, NDArray> weights = BertWeights.random(config, manager, 42);
        BertModel model = BertModel.create(config, weights, manager, null);
        try (NDManager batch = manager.newSubManager()) {
            Engine.getInstance().setRandomSeed(seed);
            NDList output = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), training);
            return output.get(0).toFloatArray();
        }
    }
}
