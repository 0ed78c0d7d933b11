package dev.graft.runtime.compose;

import static dev.graft.runtime.model.ModelAssertions.assertClose;
import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.LinearKindsMethod.Kind;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.ShiftMethod;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Composition at a linear site of the tiny Llama, by hand: {@code sum} adds each module's contribution times its
 * scaling; {@code gated} (UniPELT) scales it by {@code g = mean over tokens of σ(x·W_gᵀ + b_g)}, one value per example,
 * with {@code W_g ~ N(0, 0.02)} and {@code b_g = 0} at initialisation. A gated adapter refuses to merge; gates forced shut
 * give the base model and gates forced open give the plain sum.
 */
final class TestComposition {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final LlamaConfig CONFIG = LlamaConfig.tiny();
    private static final String SITE = "model.layers.0.self_attn.q_proj";

    private NDManager manager;

    @BeforeEach
    void open() {
        Engine.getInstance().setRandomSeed(5);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void testGatesStartAsUniPeltSays() {
        PeftModel model = model();
        Adapter adapter = model.addAdapter(spec("gated", allLinear(), Composition.GATED), new LinearKindsMethod(Kind.LOW_RANK, 3));
        List<Float> weights = new ArrayList<>();
        for (Map.Entry<Site, Attachment> entry : adapter.attachments().entrySet()) {
            Gate gate = entry.getValue().gate().orElseThrow();
            LinearSite site = (LinearSite) entry.getKey();
            NDArray weight = gate.getParameters().get("weight").getArray();
            assertThat(weight.getShape()).as("gate weight at %s", site.name()).isEqualTo(new Shape(1, site.inFeatures()));
            assertThat(gate.getParameters().get("bias").getArray().toFloatArray()).as("gate bias at %s", site.name()).containsExactly(0f);
            for (float value : weight.toFloatArray()) {
                weights.add(value);
            }
        }
        double mean = weights.stream().mapToDouble(Float::doubleValue).average().orElseThrow();
        double deviation = Math.sqrt(weights.stream().mapToDouble(value -> (value - mean) * (value - mean)).sum() / weights.size());
        // 2 layers × 7 projections, in = 64 but down_proj's 128: 2·(6·64 + 128) = 1,024 draws; standard errors: mean 6e-4, deviation 4e-4
        assertThat(weights).hasSize(1_024);
        assertThat(mean).as("mean of every gate weight").isBetween(-0.003, 0.003);
        assertThat(deviation).as("standard deviation of every gate weight, N(0, 0.02)").isBetween(0.018, 0.022);
        assertThat(model.trainableParameterCount()).as("adapter and gate parameters").isEqualTo(adapter.instance().trainableParameterCount(adapter.sites()) + 1_024 + 14);
    }

    @Test
    void testSumAndGatedAtOneSiteMatchTheHandComputation() {
        PeftModel model = model();
        TargetRules qProjection = TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj")));
        Adapter summed = model.addAdapter(spec("summed", qProjection, Composition.SUM), new LinearKindsMethod(Kind.LOW_RANK, 3));
        Adapter gated = model.addAdapter(spec("gated", qProjection, Composition.GATED), new LinearKindsMethod(Kind.LOW_RANK, 4));
        LinearSite site = site(summed);
        Gate gate = gated.attachments().get(site).gate().orElseThrow();
        // a gate weight of standard deviation 0.5 makes the logits large, so the mean of σ differs from σ of the mean
        Random random = new Random(17);
        float[] gateWeight = new float[site.inFeatures()];
        for (int index = 0; index < gateWeight.length; index++) {
            gateWeight[index] = (float) random.nextGaussian() * 0.5f;
        }
        gate.getParameters().get("weight").getArray().set(gateWeight);
        gate.getParameters().get("bias").getArray().set(new float[] {0.25f});

        int batch = 2;
        int tokens = 3;
        float[] input = new float[batch * tokens * site.inFeatures()];
        for (int index = 0; index < input.length; index++) {
            input[index] = (float) random.nextGaussian();
        }
        double[][][] x = reshape(input, batch, tokens, site.inFeatures());
        double[][] weight = matrix(model.base().stateDict().get(SITE + ".weight"));
        double[][] summedDown = matrix(parameter(summed, site, "down"));
        double[][] summedUp = matrix(parameter(summed, site, "up"));
        double[][] gatedDown = matrix(parameter(gated, site, "down"));
        double[][] gatedUp = matrix(parameter(gated, site, "up"));

        double[] gates = new double[batch];
        for (int example = 0; example < batch; example++) {
            for (int token = 0; token < tokens; token++) {
                double logit = 0.25;
                for (int index = 0; index < site.inFeatures(); index++) {
                    logit += gateWeight[index] * x[example][token][index];
                }
                gates[example] += 1 / (1 + Math.exp(-logit)) / tokens;
            }
        }
        double[] expected = new double[batch * tokens * site.outFeatures()];
        for (int example = 0; example < batch; example++) {
            for (int token = 0; token < tokens; token++) {
                double[] row = x[example][token];
                double[] base = times(weight, row);
                double[] summedDelta = times(summedUp, times(summedDown, row));
                double[] gatedDelta = times(gatedUp, times(gatedDown, row));
                for (int unit = 0; unit < site.outFeatures(); unit++) {
                    expected[(example * tokens + token) * site.outFeatures() + unit] = base[unit] + 0.5 * summedDelta[unit] + gates[example] * gatedDelta[unit];
                }
            }
        }

        LinearSiteBlock block = model.linearSite(site);
        model.setGateRecording(true);
        try (NDManager scope = manager.newSubManager()) {
            NDArray output = block.forward(new ParameterStore(scope, false), scope.create(input, new Shape(batch, tokens, site.inFeatures())), false);
            assertThat(output.getShape()).isEqualTo(new Shape(batch, tokens, site.outFeatures()));
            assertClose(output.toFloatArray(), expected, 1e-4, "y = x·Wᵀ + 0.5·x·A₁ᵀ·B₁ᵀ + g·x·A₂ᵀ·B₂ᵀ");
        }
        assertClose(gate.lastValues(), gates, 1e-6, "g = mean over tokens of σ(x·W_gᵀ + b_g), one per example");
        assertThat(Math.abs(gates[0] - gates[1])).as("the two examples get their own gate").isGreaterThan(1e-3);
        double sigmoidOfMean = 1 / (1 + Math.exp(-meanLogit(x[0], gateWeight, 0.25)));
        assertThat(Math.abs(gates[0] - sigmoidOfMean)).as("the mean is over σ of each token, not σ of the mean").isGreaterThan(1e-3);
    }

    @Test
    void testAGatedAdapterRefusesToMergeAndChangesNothing() {
        PeftModel model = model();
        Adapter adapter = model.addAdapter(spec("gated", allLinear(), Composition.GATED), new LinearKindsMethod(Kind.LOW_RANK, 3));
        assertThat(adapter.descriptor().mergeable()).as("the method merges under sum").isTrue();
        float[] before = logits(model);
        byte[] weight = model.base().stateDict().get(SITE + ".weight").toByteArray();

        assertThatThrownBy(() -> model.merge(List.of("gated"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("adapter 'gated'").hasMessageContaining("is gated").hasMessageContaining("cannot be merged");
        // the site refuses too, and says what to do instead
        assertThatThrownBy(() -> model.linearSite(site(adapter)).merge("gated")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("adapter 'gated' at " + SITE + " is gated").hasMessageContaining("attach it with composition 'sum'");

        assertThat(model.adapter("gated").isMerged()).isFalse();
        assertThat(model.base().stateDict().get(SITE + ".weight").toByteArray()).as("the base weight after a refused merge").isEqualTo(weight);
        assertThat(logits(model)).as("logits after a refused merge").containsExactly(before);
    }

    @Test
    void testGatesForcedShutGiveTheBaseAndForcedOpenGiveThePlainSum() {
        PeftModel base = model();
        PeftModel summed = model();
        PeftModel gated = model();
        for (PeftModel model : List.of(summed, gated)) {
            Composition composition = model == summed ? Composition.SUM : Composition.GATED;
            // every kind a linear site composes, each with scaling 1 so that an open gate (g = 1) takes its place exactly
            model.addAdapter(spec("input", allLinear(), composition), new LinearKindsMethod(Kind.INPUT_SCALE, 6));
            model.addAdapter(spec("output", allLinear(), composition), new LinearKindsMethod(Kind.OUTPUT_SCALE, 7));
            model.addAdapter(spec("transform", allLinear(), composition), new LinearKindsMethod(Kind.WEIGHT_DELTA, 8));
            Adapter shift = model.addAdapter(spec("shifted", allLinear(), composition), new ShiftMethod());
            Random random = new Random(9);
            for (Attachment attachment : shift.attachments().values()) {
                NDArray values = attachment.module().getParameters().get("shift").getArray();
                float[] shifts = new float[Math.toIntExact(values.size())];
                for (int index = 0; index < shifts.length; index++) {
                    shifts[index] = (float) random.nextGaussian() * 0.1f;
                }
                values.set(shifts);
            }
        }
        float[] baseLogits = logits(base);
        float[] sumLogits = logits(summed);
        assertThat(maximumDifference(sumLogits, baseLogits, MASK)).as("the summed adapters change the logits").isGreaterThan(0.1);

        gated.setGateRecording(true);
        forceGates(gated, -1e4f);
        assertClose(logits(gated), baseLogits, 1e-5, "logits with every gate forced to 0 against the base model");
        assertThat(gated.gateReadings()).hasSize(4 * 14).allSatisfy(reading -> assertThat(reading.values()).containsOnly(0f));

        forceGates(gated, 1e4f);
        assertClose(logits(gated), sumLogits, 1e-5, "logits with every gate forced to 1 against the plain sum");
        assertThat(gated.gateReadings()).allSatisfy(reading -> assertThat(reading.values()).containsOnly(1f));
    }

    /** Sets every gate's bias to {@code logit}, so σ saturates whatever {@code x·W_gᵀ} is. */
    private static void forceGates(PeftModel model, float logit) {
        for (Adapter adapter : model.adapters().values()) {
            for (Attachment attachment : adapter.attachments().values()) {
                attachment.gate().orElseThrow().getParameters().get("bias").getArray().set(new float[] {logit});
            }
        }
    }

    private PeftModel model() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(CONFIG, LlamaWeights.random(CONFIG, modelManager, 21), modelManager, null));
    }

    private static AdapterSpec spec(String name, TargetRules targets, Composition composition) {
        return new AdapterSpec(name, Map.of(), targets, composition);
    }

    private static TargetRules allLinear() {
        return TargetRules.fromConfig(Map.of("target_modules", "all-linear"));
    }

    private float[] logits(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS), batch.create(MASK)), false).singletonOrThrow().toFloatArray();
        }
    }

    private static LinearSite site(Adapter adapter) {
        return (LinearSite) adapter.sites().stream().filter(site -> site.name().equals(SITE)).findFirst().orElseThrow();
    }

    private static NDArray parameter(Adapter adapter, Site site, String name) {
        return adapter.attachments().get(site).module().getParameters().get(name).getArray();
    }

    private static double meanLogit(double[][] tokens, float[] weight, double bias) {
        double sum = 0;
        for (double[] token : tokens) {
            double logit = bias;
            for (int index = 0; index < weight.length; index++) {
                logit += weight[index] * token[index];
            }
            sum += logit;
        }
        return sum / tokens.length;
    }

    /** {@code matrix · vector} in float64. */
    private static double[] times(double[][] matrix, double[] vector) {
        double[] result = new double[matrix.length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < vector.length; column++) {
                result[row] += matrix[row][column] * vector[column];
            }
        }
        return result;
    }

    private static double[][] matrix(NDArray array) {
        long[] shape = array.getShape().getShape();
        return reshape(array.toFloatArray(), 1, (int) shape[0], (int) shape[1])[0];
    }

    private static double[][][] reshape(float[] values, int a, int b, int c) {
        double[][][] reshaped = new double[a][b][c];
        for (int index = 0; index < values.length; index++) {
            reshaped[index / (b * c)][index / c % b][index % c] = values[index];
        }
        return reshaped;
    }
}
