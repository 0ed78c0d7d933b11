package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

/**
 * DoRA at one linear site against hand computations of PEFT's formulas ({@code DoraLinearLayer}): the magnitude's
 * start, the forward {@code base(x) + (m/‖V‖ − 1)·x·Wᵀ + (m/‖V‖)·s·B·A·x} with a non-zero {@code B} and a bias, and
 * the merge {@code W' = (m/‖V‖)·V} with its unmerge, on a float32 and a float16 base.
 */
final class TestDoraModule {
    private static final LinearSite SITE = new LinearSite("encoder.layer.0.attention.self.query", 0, 3, 2, true);
    private static final float SCALING = 1.5f;
    private static final double[][] WEIGHT = {{1, 2, 0.5}, {-1, 0, 3}};
    private static final double[] BIAS = {0.1, -0.2};
    private static final double[][] LORA_A = {{1, -1, 2}};
    private static final double[][] LORA_B = {{0.5}, {-1}};
    private static final double[] MAGNITUDE = {2, 3};
    private static final double[][] INPUT = {{1, 2, 3}, {-1, 0, 0.5}};

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testMagnitudeStartsAtTheRowNormsOfTheBaseAndTheAdapterIsANoOp() {
        LinearSiteBlock block = block(DataType.FLOAT32);
        DoraModule module = attach(block);

        assertThat(values(parameter(module, DoraModule.MAGNITUDE))).containsExactly(new float[] {(float) Math.sqrt(5.25), (float) Math.sqrt(10)}, within(1e-6f));
        float[] expected = baseOutput();
        assertThat(forward(block)).containsExactly(expected, within(1e-6f));
    }

    @Test
    void testMagnitudeStartsAtTheNormOfTheAdaptedWeightWhenBIsNotZero() {
        // init_lora_weights: false leaves B non-zero; PEFT's start is then m = ‖W + s·B·A‖, which makes DoRA equal LoRA.
        LinearSiteBlock block = block(DataType.FLOAT32);
        DoraModule module = DoraModule.builder(SITE).setRank(1).optScaling(SCALING).optInitialization(LoraInitialization.LINEAR_DEFAULT).build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        block.initializeFromBase(module);

        double[][] down = matrix(parameter(module, "lora_A.weight"), 1, 3);
        double[][] up = matrix(parameter(module, "lora_B.weight"), 2, 1);
        double[] norms = rowNorms(adapted(WEIGHT, up, down));
        assertThat(values(parameter(module, DoraModule.MAGNITUDE))).containsExactly(toFloat(norms), within(1e-6f));
    }

    @Test
    void testForwardEqualsPeftsFormulaWithANonZeroB() {
        LinearSiteBlock block = block(DataType.FLOAT32);
        DoraModule module = attach(block);
        setParameters(module);

        // PEFT: result = x·Wᵀ + b + (m/‖V‖ − 1)·(x·Wᵀ) + (m/‖V‖)·s·B·(A·x), V = W + s·B·A, ‖V‖ per output row.
        double[] norms = rowNorms(adapted(WEIGHT, LORA_B, LORA_A));
        float[] expected = new float[4];
        for (int example = 0; example < 2; example++) {
            double hidden = dot(LORA_A[0], INPUT[example]);
            for (int row = 0; row < 2; row++) {
                double base = dot(WEIGHT[row], INPUT[example]);
                double scale = MAGNITUDE[row] / norms[row];
                expected[example * 2 + row] = (float) (base + BIAS[row] + (scale - 1) * base + scale * LORA_B[row][0] * hidden * SCALING);
            }
        }
        assertThat(forward(block)).containsExactly(expected, within(1e-5f));
    }

    @Test
    void testMergeGivesTheRescaledWeightAndUnmergeRestoresTheBaseInFloat32() {
        LinearSiteBlock block = block(DataType.FLOAT32);
        DoraModule module = attach(block);
        setParameters(module);
        float[] unmerged = forward(block);

        block.merge("dora");

        double[][] adapted = adapted(WEIGHT, LORA_B, LORA_A);
        double[] norms = rowNorms(adapted);
        float[] expectedWeight = new float[6];
        for (int row = 0; row < 2; row++) {
            for (int column = 0; column < 3; column++) {
                expectedWeight[row * 3 + column] = (float) (MAGNITUDE[row] / norms[row] * adapted[row][column]);
            }
        }
        assertThat(values(block.weightParameter())).as("W' = (m/‖V‖)·V").containsExactly(expectedWeight, within(1e-5f));
        assertThat(values(block.biasParameter())).as("the bias is not touched").containsExactly(toFloat(BIAS), within(0f));
        assertThat(forward(block)).as("merged output").containsExactly(unmerged, within(1e-4f));

        block.unmerge("dora");

        assertThat(values(block.weightParameter())).as("W after merge and unmerge").containsExactly(toFloat(flatten(WEIGHT)), within(1e-5f));
        assertThat(forward(block)).as("unmerged output").containsExactly(unmerged, within(1e-4f));
        block.merge("dora");
        assertThat(forward(block)).as("merged again").containsExactly(unmerged, within(1e-4f));
    }

    @Test
    void testMergeAndUnmergeOnAFloat16Base() {
        // The weights are exact in float16; the merge computes the norm and W' in float32 and rounds W' to float16 once.
        LinearSiteBlock block = block(DataType.FLOAT16);
        DoraModule module = attach(block);
        setParameters(module);
        float[] unmerged = forward(block);

        block.merge("dora");

        assertThat(block.weightParameter().getArray().getDataType()).isEqualTo(DataType.FLOAT16);
        double[][] adapted = adapted(WEIGHT, LORA_B, LORA_A);
        double[] norms = rowNorms(adapted);
        float[] merged = values(block.weightParameter());
        for (int row = 0; row < 2; row++) {
            for (int column = 0; column < 3; column++) {
                double exact = MAGNITUDE[row] / norms[row] * adapted[row][column];
                // float16 has an 11-bit significand: one rounding is within 2^-11 of the value
                assertThat((double) merged[row * 3 + column]).as("W'[%d][%d] rounded once to float16", row, column)
                        .isCloseTo(exact, within(Math.abs(exact) * Math.pow(2, -11) + 1e-7));
            }
        }
        assertThat(forward(block)).as("merged output on the float16 base").containsExactly(unmerged, within(1e-2f));

        block.unmerge("dora");

        // W' is stored in float16 (as PEFT stores it: new_weight.to(orig_dtype)), so the unmerge starts from values
        // rounded by up to 2^-11 of |W'|; the restored W is within one float16 step of the original, not within 1e-4.
        float[] restored = values(block.weightParameter());
        float[] original = toFloat(flatten(WEIGHT));
        for (int index = 0; index < original.length; index++) {
            assertThat(restored[index]).as("W[%d] after merge and unmerge on the float16 base", index)
                    .isCloseTo(original[index], within((float) (Math.pow(2, -10) * Math.max(1, Math.abs(original[index])))));
        }
        // the outputs are float16 sums of terms as large as the largest output (7.08): the round trip keeps them within
        // one float16 step of that scale, 2^-10·7.08 ≈ 6.9e-3 (measured: 3.9e-3 on 7.08, 2.0e-3 on 0.316)
        float scale = 0;
        for (float value : unmerged) {
            scale = Math.max(scale, Math.abs(value));
        }
        assertThat(forward(block)).as("output after merge and unmerge on the float16 base").containsExactly(unmerged, within((float) Math.pow(2, -10) * scale));
    }

    @Test
    void testUnmergeWithoutMergeIsRefused() {
        LinearSiteBlock block = block(DataType.FLOAT32);
        DoraModule module = attach(block);
        LinearWeights weights = block.weights();

        assertThatThrownBy(() -> module.unmerge(weights))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("DoRA at encoder.layer.0.attention.self.query: cannot unmerge an adapter this module did not merge");
    }

    @Test
    void testTrainingForwardDropsOutOnlyTheDoraTerm() {
        DoraModule module = DoraModule.builder(SITE).setRank(1).optScaling(SCALING).optDropout(0.5f).build();
        NDArray x = manager.create(new float[] {1, 2, 3, -1, 0, 0.5f}, new Shape(2, 3));

        assertThat(module.deltaInput(x, false)).as("evaluation: x itself").isSameAs(x);
        NDArray dropped = module.deltaInput(x, true);
        float[] values = dropped.toFloatArray();
        float[] input = x.toFloatArray();
        for (int index = 0; index < values.length; index++) {
            assertThat(values[index] == 0 || values[index] == input[index] * 2).as("dropout keeps x/(1 − p) or zeroes it: %s from %s", values[index], input[index]).isTrue();
        }
    }

    private LinearSiteBlock block(DataType type) {
        LinearSiteBlock block = new LinearSiteBlock(SITE);
        block.setWeights(manager.create(toFloat(flatten(WEIGHT)), new Shape(2, 3)).toType(type, false),
                manager.create(toFloat(BIAS), new Shape(2)).toType(type, false));
        return block;
    }

    /** A fresh DoRA module (r = 1, s = 1.5), initialised and attached as the runtime does. */
    private DoraModule attach(LinearSiteBlock block) {
        DoraModule module = DoraModule.builder(SITE).setRank(1).optScaling(SCALING).build();
        module.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        block.initializeFromBase(module);
        block.attachments().add(new Attachment("dora", "lora", module, null));
        return module;
    }

    private void setParameters(DoraModule module) {
        set(parameter(module, "lora_A.weight"), flatten(LORA_A), new Shape(1, 3));
        set(parameter(module, "lora_B.weight"), flatten(LORA_B), new Shape(2, 1));
        set(parameter(module, DoraModule.MAGNITUDE), MAGNITUDE, new Shape(2));
    }

    private void set(Parameter parameter, double[] values, Shape shape) {
        try (NDManager scratch = manager.newSubManager()) {
            ArrayValues.copy(parameter.getArray(), scratch.create(toFloat(values), shape));
        }
    }

    private float[] forward(LinearSiteBlock block) {
        try (NDManager batch = manager.newSubManager()) {
            NDArray x = batch.create(toFloat(flatten(INPUT)), new Shape(2, 3)).toType(block.weightParameter().getArray().getDataType(), false);
            return block.forward(new ParameterStore(batch, false), x, false).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    private static float[] baseOutput() {
        float[] output = new float[4];
        for (int example = 0; example < 2; example++) {
            for (int row = 0; row < 2; row++) {
                output[example * 2 + row] = (float) (dot(WEIGHT[row], INPUT[example]) + BIAS[row]);
            }
        }
        return output;
    }

    private static Parameter parameter(DoraModule module, String name) {
        for (Pair<String, Parameter> parameter : module.getParameters()) {
            if (parameter.getKey().equals(name)) {
                return parameter.getValue();
            }
        }
        throw new AssertionError("no parameter " + name);
    }

    private static float[] values(Parameter parameter) {
        return parameter.getArray().toType(DataType.FLOAT32, true).toFloatArray();
    }

    private static double[][] matrix(Parameter parameter, int rows, int columns) {
        float[] values = values(parameter);
        double[][] matrix = new double[rows][columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                matrix[row][column] = values[row * columns + column];
            }
        }
        return matrix;
    }

    /** {@code W + s·B·A}. */
    private static double[][] adapted(double[][] weight, double[][] up, double[][] down) {
        double[][] result = new double[weight.length][weight[0].length];
        for (int row = 0; row < weight.length; row++) {
            for (int column = 0; column < weight[0].length; column++) {
                double product = 0;
                for (int inner = 0; inner < down.length; inner++) {
                    product += up[row][inner] * down[inner][column];
                }
                result[row][column] = weight[row][column] + SCALING * product;
            }
        }
        return result;
    }

    private static double[] rowNorms(double[][] matrix) {
        double[] norms = new double[matrix.length];
        for (int row = 0; row < matrix.length; row++) {
            norms[row] = Math.sqrt(dot(matrix[row], matrix[row]));
        }
        return norms;
    }

    private static double dot(double[] left, double[] right) {
        double sum = 0;
        for (int index = 0; index < left.length; index++) {
            sum += left[index] * right[index];
        }
        return sum;
    }

    private static double[] flatten(double[][] matrix) {
        return List.of(matrix).stream().flatMapToDouble(java.util.Arrays::stream).toArray();
    }

    private static float[] toFloat(double[] values) {
        float[] result = new float[values.length];
        for (int index = 0; index < values.length; index++) {
            result[index] = (float) values[index];
        }
        return result;
    }
}
