package dev.graft.plugin.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;

import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestBottleneckAdapterModule {
    private static final SublayerSite SMALL = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 3);
    private static final SublayerSite WIDE = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 256);

    private NDManager manager;
    private NDManager modelManager;
    private NDManager batchManager;
    private ParameterStore parameterStore;

    @BeforeEach
    void openManagers() {
        Engine.getInstance().setRandomSeed(7);
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
    void testSerialDeltaByHand() {
        BottleneckAdapterModule module = handSet(NonLinearity.RELU, false);
        NDArray input = batchManager.create(new float[] {100, 100, 100}, new Shape(1, 1, 3));
        NDArray output = batchManager.create(new float[] {1, -2, 3}, new Shape(1, 1, 3));

        // down = [[1, 0, 1], [0, 1, 0]]·[1, −2, 3] + [0.5, −1] = [4.5, −3]; relu → [4.5, 0];
        // up = [[1, 2], [0, −1], [2, 0]]·[4.5, 0] + [0, 1, −1] = [4.5, 1, 8].
        assertThat(module.delta(parameterStore, input, output, false).toFloatArray()).containsExactly(4.5f, 1f, 8f);
    }

    @Test
    void testParallelDeltaReadsTheSublayerInput() {
        BottleneckAdapterModule module = handSet(NonLinearity.RELU, true);
        NDArray input = batchManager.create(new float[] {1, -2, 3}, new Shape(1, 1, 3));
        NDArray output = batchManager.create(new float[] {100, 100, 100}, new Shape(1, 1, 3));

        assertThat(module.delta(parameterStore, input, output, false).toFloatArray()).containsExactly(4.5f, 1f, 8f);
    }

    @Test
    void testHalfPrecisionInputIsComputedInFloat32AndReturnedInHalf() {
        BottleneckAdapterModule module = handSet(NonLinearity.RELU, false);
        NDArray output = batchManager.create(new float[] {1, -2, 3}, new Shape(1, 1, 3)).toType(DataType.FLOAT16, false);

        NDArray delta = module.delta(parameterStore, output, output, false);

        assertThat(delta.getDataType()).isEqualTo(DataType.FLOAT16);
        assertThat(delta.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(4.5f, 1f, 8f);
    }

    @Test
    void testActivationsByHand() {
        NDArray input = batchManager.create(new float[] {0, 0, 0}, new Shape(1, 3));
        // With z = 0 the down-projection is its bias [0.5, −1]; the up-projection then gives
        // [f(0.5) + 2·f(−1), 1 − f(−1), −1 + 2·f(0.5)].
        assertActivation(NonLinearity.TANH, input, Math.tanh(0.5), Math.tanh(-1));
        assertActivation(NonLinearity.SWISH, input, 0.5 / (1 + Math.exp(-0.5)), -1 / (1 + Math.exp(1)));
        // Exact (erf) GELU x·Φ(x), with Φ(0.5) = 0.6914624612740131 and Φ(−1) = 0.15865525393145707; the tanh
        // approximation differs by more than 1e-4 here.
        assertActivation(NonLinearity.GELU, input, 0.5 * 0.6914624612740131, -0.15865525393145707);
        assertActivation(NonLinearity.RELU, input, 0.5, 0);
    }

    @Test
    void testDropoutOnlyWhileTraining() {
        BottleneckAdapterModule module = BottleneckAdapterModule.builder(WIDE).setBottleneck(16).optDropout(0.5f).optInitialization(AdapterInitialization.BERT).build();
        module.initialize(modelManager, DataType.FLOAT32, new Shape(1, 256));
        NDArray hidden = batchManager.randomNormal(new Shape(8, 256));

        float[] evaluation = module.delta(parameterStore, hidden, hidden, false).toFloatArray();
        float[] training = module.delta(parameterStore, hidden, hidden, true).toFloatArray();

        int dropped = 0;
        for (int index = 0; index < evaluation.length; index++) {
            if (training[index] == 0) {
                dropped++;
            }
            else {
                assertThat(training[index]).isCloseTo(2 * evaluation[index], within(1e-5f));
            }
        }
        assertThat((double) dropped / evaluation.length).isCloseTo(0.5, within(0.05));
    }

    @Test
    void testMamAdapterInitializationIsANoOp() {
        BottleneckAdapterModule module = module(WIDE, 16, AdapterInitialization.MAM_ADAPTER);
        float[] down = values(module, BottleneckAdapterModule.ADAPTER_DOWN_WEIGHT);
        double bound = 1 / Math.sqrt(256);

        assertThat(down).hasSize(16 * 256);
        assertThat(maximumAbsolute(down)).isLessThanOrEqualTo(bound).isGreaterThan(0.95 * bound);
        assertThat(standardDeviation(down)).isCloseTo(bound / Math.sqrt(3), within(0.05 * bound));
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_DOWN_BIAS)).hasSize(16).containsOnly(0f);
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_UP_WEIGHT)).hasSize(256 * 16).containsOnly(0f);
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_UP_BIAS)).hasSize(256).containsOnly(0f);
        NDArray hidden = batchManager.randomNormal(new Shape(2, 5, 256));
        assertThat(maximumAbsolute(module.delta(parameterStore, hidden, hidden, false).toFloatArray())).isZero();
    }

    @Test
    void testBertInitialization() {
        BottleneckAdapterModule module = module(WIDE, 16, AdapterInitialization.BERT);

        assertThat(standardDeviation(values(module, BottleneckAdapterModule.ADAPTER_DOWN_WEIGHT))).isCloseTo(0.02, within(0.001));
        assertThat(standardDeviation(values(module, BottleneckAdapterModule.ADAPTER_UP_WEIGHT))).isCloseTo(0.02, within(0.001));
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_DOWN_BIAS)).containsOnly(0f);
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_UP_BIAS)).containsOnly(0f);
    }

    @Test
    void testHoulsbyInitializationIsATruncatedNormal() {
        BottleneckAdapterModule module = module(WIDE, 16, AdapterInitialization.HOULSBY);

        for (String name : new String[] {BottleneckAdapterModule.ADAPTER_DOWN_WEIGHT, BottleneckAdapterModule.ADAPTER_UP_WEIGHT}) {
            float[] weights = values(module, name);
            assertThat(maximumAbsolute(weights)).as(name).isLessThanOrEqualTo(0.02).isGreaterThan(0.018);
            // A normal of σ = 0.01 cut at ±2σ has standard deviation 0.8796·σ.
            assertThat(standardDeviation(weights)).as(name).isCloseTo(0.008796, within(0.0004));
        }
        assertThat(values(module, BottleneckAdapterModule.ADAPTER_UP_BIAS)).containsOnly(0f);
    }

    @Test
    void testRejectsInputOfTheWrongWidth() {
        BottleneckAdapterModule module = handSet(NonLinearity.RELU, false);
        NDArray wrong = batchManager.ones(new Shape(1, 2, 4));

        assertThatThrownBy(() -> module.delta(parameterStore, wrong, wrong, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bottleneck adapter at model.layers.0.mlp: sublayer output has shape (1, 2, 4), but its last dimension must be hidden=3");
    }

    @Test
    void testRejectsBadConstruction() {
        assertThatThrownBy(() -> BottleneckAdapterModule.builder(SMALL).setBottleneck(0).build())
                .hasMessage("bottleneck adapter at model.layers.0.mlp: bottleneck width must be greater than 0, but is 0");
        assertThatThrownBy(() -> BottleneckAdapterModule.builder(SMALL).setBottleneck(2).optDropout(1).build())
                .hasMessage("bottleneck adapter at model.layers.0.mlp: dropout must be in [0, 1), but is 1.0");
    }

    @Test
    void testDeltaKeepsOnlyItsResult() {
        BottleneckAdapterModule module = module(WIDE, 16, AdapterInitialization.BERT);
        modelManager.cap();
        NDArray hidden = batchManager.randomNormal(new Shape(2, 5, 256));
        int before = ((BaseNDManager) batchManager).getManagedArrays().size();

        NDArray delta = module.delta(parameterStore, hidden, hidden, true);

        assertThat(delta.getManager()).isSameAs(batchManager);
        assertThat(delta.getShape()).isEqualTo(new Shape(2, 5, 256));
        assertThat(((BaseNDManager) batchManager).getManagedArrays()).hasSize(before + 1);
    }

    @Test
    void testSaveStateUsesAdapterKeySuffixes() {
        Map<String, NDArray> state = module(WIDE, 16, AdapterInitialization.MAM_ADAPTER).saveState(batchManager);

        assertThat(state.keySet()).containsExactly("adapter_down.weight", "adapter_down.bias", "adapter_up.weight", "adapter_up.bias");
        assertThat(state.get("adapter_down.weight").getShape()).isEqualTo(new Shape(16, 256));
        assertThat(state.get("adapter_up.weight").getShape()).isEqualTo(new Shape(256, 16));
    }

    /** Checks the hand-set adapter at {@code z = 0}, where the activation sees 0.5 and −1, giving {@code high} and {@code low}. */
    private void assertActivation(NonLinearity nonLinearity, NDArray zero, double high, double low) {
        BottleneckAdapterModule module = handSet(nonLinearity, false);
        float[] delta = module.delta(parameterStore, zero, zero, false).toFloatArray();
        assertThat(delta[0]).as("%s", nonLinearity).isCloseTo((float) (high + 2 * low), within(1e-6f));
        assertThat(delta[1]).as("%s", nonLinearity).isCloseTo((float) (1 - low), within(1e-6f));
        assertThat(delta[2]).as("%s", nonLinearity).isCloseTo((float) (-1 + 2 * high), within(1e-6f));
    }

    /**
     * A 3 → 2 → 3 adapter with down = [[1, 0, 1], [0, 1, 0]], down bias [0.5, −1], up = [[1, 2], [0, −1], [2, 0]] and up
     * bias [0, 1, −1].
     */
    private BottleneckAdapterModule handSet(NonLinearity nonLinearity, boolean parallel) {
        BottleneckAdapterModule module = BottleneckAdapterModule.builder(SMALL).setBottleneck(2).optNonLinearity(nonLinearity).optParallel(parallel).build();
        module.initialize(modelManager, DataType.FLOAT32, new Shape(1, 3));
        set(module, BottleneckAdapterModule.ADAPTER_DOWN_WEIGHT, 1, 0, 1, 0, 1, 0);
        set(module, BottleneckAdapterModule.ADAPTER_DOWN_BIAS, 0.5f, -1);
        set(module, BottleneckAdapterModule.ADAPTER_UP_WEIGHT, 1, 2, 0, -1, 2, 0);
        set(module, BottleneckAdapterModule.ADAPTER_UP_BIAS, 0, 1, -1);
        return module;
    }

    private BottleneckAdapterModule module(SublayerSite site, int bottleneck, AdapterInitialization initialization) {
        BottleneckAdapterModule module = BottleneckAdapterModule.builder(site).setBottleneck(bottleneck).optInitialization(initialization).build();
        module.initialize(modelManager, DataType.FLOAT32, new Shape(1, site.hiddenSize()));
        return module;
    }

    private static void set(BottleneckAdapterModule module, String name, float... values) {
        module.getParameters().get(name).getArray().set(values);
    }

    private static float[] values(BottleneckAdapterModule module, String name) {
        return module.getParameters().get(name).getArray().toFloatArray();
    }

    private static double maximumAbsolute(float[] values) {
        double maximum = 0;
        for (float value : values) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        return maximum;
    }

    private static double standardDeviation(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        double mean = sum / values.length;
        double squares = 0;
        for (float value : values) {
            squares += (value - mean) * (value - mean);
        }
        return Math.sqrt(squares / values.length);
    }
}
