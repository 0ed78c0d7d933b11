package dev.graft.it.peft;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 5: adapters saved by Python PEFT 0.14 give PEFT's outputs within 1e-4, unmerged and merged, and adapters
 * Graft saves are what PEFT saves, on a Llama-family and a BERT-family model. The configurations: on {@link TinyLlama},
 * those of {@link PeftScenarios} (LoRA plain, rsLoRA, rank and alpha patterns; VeRA with saved projections; IA³ on
 * Llama's defaults; Bone with partial blocks; Bat; MiSS, PEFT 0.19's successor of Bone, with partial blocks, bat and
 * mini) and of {@link PromptLearningScenarios} (prefix tuning, whose prefix
 * has the key/value heads' width under grouped-query attention; prompt tuning); on {@link TinyBert}, a bare
 * {@code BertModel} wrapped for {@code FEATURE_EXTRACTION}, those of {@link BertScenarios} (LoRA on {@code query, value};
 * IA³ on PEFT's BERT defaults, where {@code output.dense} is feed-forward in both places it matches; VeRA; Bone with
 * partial blocks; prefix tuning; prompt tuning). For each:
 * <ul>
 *   <li>the PEFT folder, written by hand with every config field PEFT writes, loads through the store and the method
 *       its {@code peft_type} names, and its outputs match the oracle's over weights merged by hand in float64, before
 *       and after {@code merge}, or with the virtual keys/values or tokens PEFT takes from {@code prompt_embeddings},
 *       for which {@code merge} is refused with a message that says so; config fields the method does not know give
 *       one warning line;</li>
 *   <li>saved again by Graft, that adapter is PEFT's file: the same tensors bit for bit, every config field kept;</li>
 *   <li>the same configuration attached by Graft and saved holds exactly PEFT's keys with PEFT's shapes, and the saved
 *       folder reloads to identical outputs.</li>
 * </ul>
 */
final class TestPeftInterop {
    @TempDir
    Path scratch;

    static Stream<Arguments> scenarios() {
        Named<Supplier<InteropModel>> llama = Named.of("tiny-llama", TinyLlama::tiny);
        Named<Supplier<InteropModel>> bert = Named.of("tiny-bert", TinyBert::new);
        return Stream.concat(
                Stream.of(
                        PeftScenarios.loraPlain(),
                        PeftScenarios.loraRankStabilized(),
                        PeftScenarios.loraPatterns(),
                        PeftScenarios.veraWithProjections(),
                        PeftScenarios.ia3LlamaDefaults(),
                        PeftScenarios.boneWithPartialBlocks(),
                        PeftScenarios.boneBlockAffine(),
                        PeftScenarios.missWithPartialBlocks(),
                        PeftScenarios.missBlockAffine(),
                        PeftScenarios.missMini(),
                        PromptLearningScenarios.prefixTuning(TinyLlama.BASE, 3),
                        PromptLearningScenarios.promptTuning(TinyLlama.BASE, 3)).map(scenario -> Arguments.of(llama, scenario)),
                Stream.of(
                        BertScenarios.loraQueryValue(),
                        BertScenarios.ia3BertDefaults(),
                        BertScenarios.veraWithProjections(),
                        BertScenarios.boneWithPartialBlocks(),
                        BertScenarios.prefixTuning(),
                        BertScenarios.promptTuning()).map(scenario -> Arguments.of(bert, scenario)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("scenarios")
    void testPeftFolderGivesPeftOutputsUnmergedAndMerged(Supplier<InteropModel> model, PeftScenario scenario) throws IOException {
        try (InteropModel opened = model.get()) {
            new PeftInterop(opened, scratch).assertLoadsLikePeft(scenario);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("scenarios")
    void testPeftFolderSavedAgainByGraftKeepsPeftTensorsAndFields(Supplier<InteropModel> model, PeftScenario scenario) throws IOException {
        try (InteropModel opened = model.get()) {
            new PeftInterop(opened, scratch).assertResavesAsPeft(scenario);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("scenarios")
    void testGraftSavesPeftKeysAndShapesAndReloads(Supplier<InteropModel> model, PeftScenario scenario) throws IOException {
        try (InteropModel opened = model.get()) {
            new PeftInterop(opened, scratch).assertSavesLikePeft(scenario);
        }
    }

    /** On projections with biases, IA³ scales {@code k_proj}'s and {@code v_proj}'s bias with their rows, and leaves {@code down_proj}'s alone. */
    @Test
    void testIa3FolderOnProjectionsWithBiasesGivesPeftLogits() throws IOException {
        try (TinyLlama withBiases = TinyLlama.tinyWithBiases()) {
            new PeftInterop(withBiases, scratch).assertLoadsLikePeft(PeftScenarios.ia3LlamaDefaults());
        }
    }
}
