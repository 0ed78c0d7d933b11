package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;
import dev.graft.runtime.store.AdapterTask;
import dev.graft.runtime.store.StoreException;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Site;
import dev.graft.tck.Matrices;
import dev.graft.tck.TinyModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PiSSA, its randomized variant and OLoRA start as PEFT does (the factors by PEFT's formulas; the residual plus
 * {@code s·B·A} gives back {@code W}; the output is unchanged), and PEFT's conversion to a plain LoRA of rank
 * {@code 2r} gives, on the original base, the model the trained adapter gives.
 */
final class TestLoraBaseDerivedInitializations {
    private static final double SCALING = 8.0 / 4;

    @TempDir
    Path directory;

    private NDManager manager;

    @BeforeEach
    void openManager() {
        Engine.getInstance().setRandomSeed(1234);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Test
    void testPissaFactorsAreTheScaledSingularPartAndTheResidualGivesBackTheWeight() {
        PeftModel model = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        Map<String, float[][]> weights = weights(model);
        float[] before = TinyModel.LLAMA.output(model, manager);
        Adapter adapter = attach(model, "pissa");

        assertThat(TinyModel.LLAMA.output(model, manager)).as("logits right after attaching").containsExactly(before);
        for (Site site : adapter.sites()) {
            float[][] weight = weights.get(site.name());
            float[][] down = matrix(module(adapter, site).factorA());
            float[][] up = matrix(module(adapter, site).factorB());
            float[][] part = Matrices.scaled(Matrices.product(up, down), SCALING);
            assertClose(part, BaseDerivedStarts.pissaPart(weight, 4), 1e-5, "s·B·A against the top-4 SVD part of " + site.name());
            assertClose(sum(Matrices.difference(weight, part), part), weight, 1e-5, "residual + s·B·A at " + site.name());
            // B = U·diag(√(S/s)) and A = diag(√(S/s))·Vᵀ: Bᵀ·B = A·Aᵀ = diag(S/s)
            float[][] upGram = Matrices.product(Matrices.transpose(up), up);
            float[][] downGram = Matrices.product(down, Matrices.transpose(down));
            for (int row = 0; row < 4; row++) {
                for (int column = 0; column < 4; column++) {
                    assertThat(upGram[row][column]).as("BᵀB[%d][%d]", row, column).isCloseTo(row == column ? downGram[row][column] : 0, offset(1e-5f));
                }
            }
        }
        assertMergedWeightsAreTheOriginal(model, adapter, weights);
    }

    @Test
    void testOloraFactorsAreTheQrPartsAndTheResidualGivesBackTheWeight() {
        PeftModel model = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        Map<String, float[][]> weights = weights(model);
        float[] before = TinyModel.LLAMA.output(model, manager);
        Adapter adapter = attach(model, "olora");

        assertThat(TinyModel.LLAMA.output(model, manager)).as("logits right after attaching").containsExactly(before);
        for (Site site : adapter.sites()) {
            float[][] weight = weights.get(site.name());
            float[][] down = matrix(module(adapter, site).factorA());
            float[][] up = matrix(module(adapter, site).factorB());
            float[][] part = Matrices.scaled(Matrices.product(up, down), SCALING);
            assertClose(part, BaseDerivedStarts.oloraPart(weight, 4, SCALING), 1e-5, "s·Q_r·R_r at " + site.name());
            assertClose(sum(Matrices.difference(weight, part), part), weight, 1e-5, "residual + s·B·A at " + site.name());
            float[][] gram = Matrices.product(Matrices.transpose(up), up);
            for (int row = 0; row < 4; row++) {
                for (int column = 0; column < 4; column++) {
                    assertThat(gram[row][column]).as("BᵀB[%d][%d]: B = Q[:, :r] has orthonormal columns", row, column).isCloseTo(row == column ? 1 : 0, offset(1e-5f));
                }
                for (int column = 0; column < row; column++) {
                    assertThat(down[row][column]).as("A = R[:r] is upper triangular at [%d][%d]", row, column).isZero();
                }
            }
        }
        assertMergedWeightsAreTheOriginal(model, adapter, weights);
    }

    @Test
    void testRandomizedPissaIsRepeatableAndCloseToTheExactPart() {
        PeftModel first = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        PeftModel second = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        Map<String, float[][]> weights = weights(first);
        Adapter one = attach(first, "pissa_niter_4");
        Adapter two = attach(second, "pissa_niter_4");
        for (Site site : one.sites()) {
            assertThat(module(one, site).factorA().toFloatArray()).as("A at %s on two attaches", site.name()).containsExactly(module(two, site).factorA().toFloatArray());
            float[][] part = Matrices.scaled(Matrices.product(matrix(module(one, site).factorB()), matrix(module(one, site).factorA())), SCALING);
            assertClose(sum(Matrices.difference(weights.get(site.name()), part), part), weights.get(site.name()), 1e-5, "residual + s·B·A at " + site.name());
        }
        assertThat(module(one, one.sites().get(0)).initialization()).isEqualTo(LoraInitialization.PISSA_RANDOMIZED);
    }

    @Test
    void testConvertedAdapterOnTheOriginalBaseEqualsTheTrainedModel() {
        for (String initialization : List.of("pissa", "pissa_niter_2", "olora")) {
            PeftModel model = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
            Adapter adapter = attach(model, initialization);
            train(adapter);
            float[] trained = TinyModel.LLAMA.output(model, manager);

            Path converted = directory.resolve(initialization + "-converted");
            AdapterStore.saveConverted(model, "default", converted, "tiny-llama", AdapterTask.bare("llama"));
            Map<String, Object> config = AdapterStore.config(converted);
            assertThat(config).containsEntry("init_lora_weights", true).containsEntry("r", 8).containsEntry("lora_alpha", 16.0).containsEntry("peft_type", "LORA");

            PeftModel original = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
            Adapter loaded = AdapterStore.load(original, converted, "default", type -> "LORA".equals(type) ? new LoraMethod() : null);
            LinearSite site = (LinearSite) loaded.sites().get(0);
            assertThat(module(loaded, site).derivesFromBase()).isFalse();
            assertThat(module(loaded, site).factorA().getShape().get(0)).isEqualTo(8);
            assertClose(TinyModel.LLAMA.output(original, manager), trained, 1e-4, initialization + ": converted plain LoRA on the original base");

            // the plain save keeps init_lora_weights and derives the same start from the original base when loaded, as PEFT does
            Path plain = directory.resolve(initialization);
            AdapterStore.save(model, "default", plain, "tiny-llama");
            assertThat(AdapterStore.config(plain)).containsEntry("init_lora_weights", initialization).containsEntry("r", 4);
            PeftModel again = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
            AdapterStore.load(again, plain, "default", type -> new LoraMethod());
            assertClose(TinyModel.LLAMA.output(again, manager), trained, 1e-5, initialization + ": reloaded on the original base");
        }
    }

    @Test
    void testConversionIsRefusedWhereThereIsNothingToConvertOrPeftRefusesIt() {
        PeftModel model = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        attach(model, "true");
        assertThatThrownBy(() -> AdapterStore.saveConverted(model, "default", directory.resolve("plain"), "tiny", AdapterTask.bare("llama")))
                .isInstanceOf(StoreException.class).hasMessageContaining("nothing to convert");

        Map<String, Object> options = new LinkedHashMap<>(Map.of("r", 4, "lora_alpha", 8, "init_lora_weights", "pissa", "use_rslora", true));
        options.put("rank_pattern", Map.of("q_proj", 2));
        model.addAdapter(new AdapterSpec("patterned", options, TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"))), Composition.SUM),
                new LoraMethod());
        assertThatThrownBy(() -> AdapterStore.saveConverted(model, "patterned", directory.resolve("patterned"), "tiny", AdapterTask.bare("llama")))
                .isInstanceOf(InvalidOptionsException.class).hasMessageContaining("use_rslora");
    }

    @Test
    void testRankAboveTheWeightsRankAndEvaAreRefused() {
        PeftModel model = TinyModel.LLAMA.create(manager, DataType.FLOAT32);
        assertThatThrownBy(() -> model.addAdapter(new AdapterSpec("wide", Map.of("r", 40, "init_lora_weights", "olora"),
                TargetRules.fromConfig(Map.of("target_modules", List.of("v_proj"))), Composition.SUM), new LoraMethod()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("option 'r' is 40").hasMessageContaining("at most 32");
        assertThatThrownBy(() -> attach(model, "eva"))
                .isInstanceOf(InvalidOptionsException.class).hasMessageContaining("init_lora_weights").hasMessageContaining("activations");
    }

    private static Adapter attach(PeftModel model, String initialization) {
        Object value = "true".equals(initialization) ? Boolean.TRUE : initialization;
        return model.addAdapter(new AdapterSpec("default", Map.of("r", 4, "lora_alpha", 8, "init_lora_weights", value),
                TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj", "v_proj"))), Composition.SUM), new LoraMethod());
    }

    /** Moves every trainable tensor, as training would. */
    private void train(Adapter adapter) {
        for (Parameter parameter : adapter.trainableParameters()) {
            try (NDManager scratch = manager.newSubManager()) {
                parameter.getArray().addi(scratch.randomNormal(0f, 0.1f, parameter.getArray().getShape(), DataType.FLOAT32));
            }
        }
    }

    private static void assertMergedWeightsAreTheOriginal(PeftModel model, Adapter adapter, Map<String, float[][]> weights) {
        model.merge(List.of("default"));
        for (Site site : adapter.sites()) {
            assertClose(matrix(model.linearSite((LinearSite) site).weights().weight()), weights.get(site.name()), 1e-5, "merged weight at the start at " + site.name());
        }
        model.unmerge(List.of("default"));
    }

    private static LoraModule module(Adapter adapter, Site site) {
        return (LoraModule) adapter.attachments().get(site).module();
    }

    private static Map<String, float[][]> weights(PeftModel model) {
        Map<String, float[][]> weights = new LinkedHashMap<>();
        for (Site site : model.base().sites()) {
            if (site instanceof LinearSite) {
                weights.put(site.name(), matrix(model.linearSite((LinearSite) site).weights().weight()));
            }
        }
        return weights;
    }

    private static float[][] matrix(NDArray array) {
        int rows = (int) array.getShape().get(0);
        int columns = (int) array.getShape().get(1);
        float[] values = array.toFloatArray();
        float[][] matrix = new float[rows][columns];
        for (int row = 0; row < rows; row++) {
            System.arraycopy(values, row * columns, matrix[row], 0, columns);
        }
        return matrix;
    }

    private static float[][] sum(float[][] left, float[][] right) {
        return Matrices.difference(left, Matrices.scaled(right, -1));
    }

    private static void assertClose(float[][] actual, float[][] expected, double tolerance, String what) {
        for (int row = 0; row < expected.length; row++) {
            for (int column = 0; column < expected[0].length; column++) {
                assertThat(actual[row][column]).as("%s [%d][%d]", what, row, column).isCloseTo(expected[row][column], offset((float) tolerance));
            }
        }
    }

    private static void assertClose(float[] actual, float[] expected, double tolerance, String what) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int index = 0; index < expected.length; index++) {
            assertThat(actual[index]).as("%s [%d]", what, index).isCloseTo(expected[index], offset((float) tolerance));
        }
    }
}
