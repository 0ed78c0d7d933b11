package dev.graft.it.peft;

import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 5: adapters saved by Python PEFT 0.14 give PEFT's outputs within 1e-4, unmerged and merged, and adapters
 * Graft saves are what PEFT saves. For each configuration of {@link PeftScenarios} (LoRA plain, rsLoRA, rank and alpha
 * patterns; VeRA with saved projections; IA³ on Llama's defaults; Bone with partial blocks; Bat) and of
 * {@link PromptLearningScenarios} (prefix tuning, whose prefix has the key/value heads' width under grouped-query
 * attention; prompt tuning) on the tiny Llama:
 * <ul>
 *   <li>the PEFT folder, written by hand with every config field PEFT writes, loads through the store and the method
 *       its {@code peft_type} names, and its logits match the reference forward over weights merged by hand in
 *       float64, before and after {@code merge}, or with the virtual keys/values or tokens PEFT takes from
 *       {@code prompt_embeddings}, for which {@code merge} is refused with a message that says so; config fields the
 *       method does not know give one warning line;</li>
 *   <li>saved again by Graft, that adapter is PEFT's file: the same tensors bit for bit, every config field kept;</li>
 *   <li>the same configuration attached by Graft and saved holds exactly PEFT's keys with PEFT's shapes, and the saved
 *       folder reloads to identical logits.</li>
 * </ul>
 */
final class TestPeftInterop {
    @TempDir
    Path scratch;

    private TinyLlama llama;
    private PeftInterop interop;

    @BeforeEach
    void open() {
        llama = TinyLlama.tiny();
        interop = new PeftInterop(llama, scratch);
    }

    @AfterEach
    void close() {
        llama.close();
    }

    static Stream<PeftScenario> scenarios() {
        return Stream.of(
                PeftScenarios.loraPlain(),
                PeftScenarios.loraRankStabilized(),
                PeftScenarios.loraPatterns(),
                PeftScenarios.veraWithProjections(),
                PeftScenarios.ia3LlamaDefaults(),
                PeftScenarios.boneWithPartialBlocks(),
                PeftScenarios.boneBlockAffine(),
                PromptLearningScenarios.prefixTuning(TinyLlama.BASE, 3),
                PromptLearningScenarios.promptTuning(TinyLlama.BASE, 3));
    }

    @ParameterizedTest
    @MethodSource("scenarios")
    void testPeftFolderGivesPeftLogitsUnmergedAndMerged(PeftScenario scenario) throws IOException {
        interop.assertLoadsLikePeft(scenario);
    }

    @ParameterizedTest
    @MethodSource("scenarios")
    void testPeftFolderSavedAgainByGraftKeepsPeftTensorsAndFields(PeftScenario scenario) throws IOException {
        interop.assertResavesAsPeft(scenario);
    }

    @ParameterizedTest
    @MethodSource("scenarios")
    void testGraftSavesPeftKeysAndShapesAndReloads(PeftScenario scenario) throws IOException {
        interop.assertSavesLikePeft(scenario);
    }

    /** On projections with biases, IA³ scales {@code k_proj}'s and {@code v_proj}'s bias with their rows, and leaves {@code down_proj}'s alone. */
    @Test
    void testIa3FolderOnProjectionsWithBiasesGivesPeftLogits() throws IOException {
        try (TinyLlama withBiases = TinyLlama.tinyWithBiases()) {
            new PeftInterop(withBiases, scratch).assertLoadsLikePeft(PeftScenarios.ia3LlamaDefaults());
        }
    }
}
