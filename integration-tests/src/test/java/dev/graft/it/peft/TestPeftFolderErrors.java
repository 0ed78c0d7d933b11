package dev.graft.it.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A PEFT folder whose tensors do not fit its config — a tensor of the wrong shape, a missing key, an unexpected key —
 * is refused with one clear error that names the checkpoint key as the file spells it, and the expected and found
 * shapes; the model keeps no adapter and computes exactly what it computed before.
 */
final class TestPeftFolderErrors {
    private static final String Q_PROJ = "model.layers.0.self_attn.q_proj";

    @TempDir
    Path scratch;

    private TinyLlama llama;

    @BeforeEach
    void open() {
        llama = TinyLlama.tiny();
    }

    @AfterEach
    void close() {
        llama.close();
    }

    static Stream<Arguments> brokenFolders() {
        Random random = new Random(13);
        PeftAdapter lora = PeftScenarios.loraPlain().peft();
        PeftAdapter vera = PeftScenarios.veraWithProjections().peft();
        PeftAdapter ia3 = PeftScenarios.ia3LlamaDefaults().peft();
        PeftAdapter bat = PeftScenarios.boneBlockAffine().peft();
        String loraA = PeftKeys.of(Q_PROJ, PeftScenarios.LORA_A);
        String missing = PeftKeys.of("model.layers.1.self_attn.v_proj", PeftScenarios.LORA_B);
        String unexpected = PeftKeys.of("model.layers.0.self_attn.k_proj", PeftScenarios.LORA_A);
        String downProjection = PeftKeys.of("model.layers.1.mlp.down_proj", PeftScenarios.IA3_L);
        String batBlock = PeftKeys.of(Q_PROJ, PeftScenarios.BONE_BLOCK);
        PeftAdapter prefix = PromptLearningScenarios.prefixTuning(TinyLlama.BASE, 3).peft();
        PeftAdapter prompt = PromptLearningScenarios.promptTuning(TinyLlama.BASE, 3).peft();
        String promptEmbeddings = PromptLearningScenarios.PROMPT_EMBEDDINGS;
        return Stream.of(
                Arguments.of("LoRA tensor of another rank",
                        lora.withTensor(loraA, PlainTensor.gaussian(random, 0, 0.05, 4, 64)),
                        List.of("'" + loraA + "'", "(4, 64)", "(8, 64)")),
                Arguments.of("LoRA tensor missing",
                        lora.withoutTensor(missing),
                        List.of("'" + missing + "'", "expects", "not in the file", "(32, 8)")),
                Arguments.of("LoRA tensor for a module the config does not target",
                        lora.withTensor(unexpected, PlainTensor.gaussian(random, 0, 0.05, 8, 64)),
                        List.of("'" + unexpected + "'", "in the file", "no module of the adapter")),
                Arguments.of("VeRA projection sized to another model",
                        vera.withTensor(PeftKeys.VERA_A, PlainTensor.gaussian(random, 0, 0.1, PeftScenarios.VERA_RANK, 64)),
                        List.of("'" + PeftKeys.VERA_A + "'", "(16, 64)", "(16, 128)")),
                Arguments.of("IA3 feed-forward vector saved as an output vector",
                        ia3.withTensor(downProjection, ia3.tensor(downProjection).reshape(128, 1)),
                        List.of("'" + downProjection + "'", "(128, 1)", "(1, 128)")),
                Arguments.of("Bat blocks of another block size",
                        bat.withTensor(batBlock, PlainTensor.gaussian(random, 0, 0.05, 2, 32, 32)),
                        List.of("'" + batBlock + "'", "(2, 32, 32)", "(4, 16, 16)")),
                Arguments.of("Prefix for more virtual tokens than the config's",
                        prefix.withTensor(promptEmbeddings, PlainTensor.gaussian(random, 0, 1, 4, 128)),
                        List.of("'" + promptEmbeddings + "'", "(4, 128)", "(3, 128)")),
                Arguments.of("Prefix as wide as the hidden size, not the key/value heads' (no grouped-query attention)",
                        prefix.withTensor(promptEmbeddings, PlainTensor.gaussian(random, 0, 1, 3, 256)),
                        List.of("'" + promptEmbeddings + "'", "(3, 256)", "(3, 128)")),
                Arguments.of("Prompt of another width than the embeddings",
                        prompt.withTensor(promptEmbeddings, PlainTensor.gaussian(random, 0, 1, 3, 32)),
                        List.of("'" + promptEmbeddings + "'", "(3, 32)", "(3, 64)")),
                Arguments.of("Prompt-tuning folder without its tensor",
                        prompt.withoutTensor(promptEmbeddings),
                        List.of("'" + promptEmbeddings + "'", "expects", "not in the file", "(3, 64)")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFolders")
    void testBrokenFolderGivesOneErrorNamingTheKeyAndAttachesNothing(String description, PeftAdapter broken, List<String> named) throws IOException {
        Path folder = scratch.resolve("broken");
        broken.writeTo(folder);
        PeftModel model = llama.newModel();
        float[] before = llama.outputs(model);

        assertThatThrownBy(() -> AdapterStore.load(model, folder, "default", PeftMethods::byPeftType))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll(named.toArray(String[]::new))
                .satisfies(error -> assertThat(error.getMessage()).doesNotContain("\n"));

        assertThat(model.adapters()).isEmpty();
        assertThat(model.trainableParameterCount()).isZero();
        assertThat(llama.outputs(model)).isEqualTo(before);
    }
}
