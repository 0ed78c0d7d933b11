package dev.graft.plugin.prompt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestPromptTuningMethod {
    private static final int HIDDEN = 4;
    private static final Map<String, Long> WORDS = Map.of("classify", 4L, "the", 7L, "review", 2L, "unknown", 500L);

    private final PeftMethod method = new PromptTuningMethod();
    private NDManager manager;

    @BeforeEach
    void openManager() {
        Engine.getInstance().setRandomSeed(5);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = method.descriptor();

        assertThat(descriptor.id()).isEqualTo("prompt");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("PROMPT_TUNING");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.EMBEDDING);
        assertThat(descriptor.mergeable()).isFalse();
        assertThat(descriptor.options().names()).containsExactly("num_virtual_tokens", "prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path",
                "token_dim", "num_layers", "num_attention_heads", "num_transformer_submodules");
    }

    @Test
    void testServiceLoaderFindsTheMethod() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type)).contains(PromptTuningMethod.class);
    }

    @Test
    void testTextShorterThanThePromptIsRepeated() {
        TableModelContext model = new TableModelContext(HIDDEN, 10, WORDS);
        float[] prompt = initialized(create(Map.of("num_virtual_tokens", 7, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "classify the review",
                "tokenizer_name_or_path", "ignored/anywhere"), model));

        assertThat(model.embeddedTokens()).containsExactly(4L, 7L, 2L, 4L, 7L, 2L, 4L);
        assertThat(prompt).containsExactly(rows(4, 7, 2, 4, 7, 2, 4));
    }

    @Test
    void testTextLongerThanThePromptIsCut() {
        TableModelContext model = new TableModelContext(HIDDEN, 10, WORDS);
        float[] prompt = initialized(create(Map.of("num_virtual_tokens", 2, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "classify the review"), model));

        assertThat(prompt).containsExactly(rows(4, 7));
    }

    @Test
    void testTextOfExactlyThePromptLength() {
        TableModelContext model = new TableModelContext(HIDDEN, 10, WORDS);
        float[] prompt = initialized(create(Map.of("num_virtual_tokens", 3, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "the review classify"), model));

        assertThat(prompt).containsExactly(rows(7, 2, 4));
    }

    @Test
    void testRepeatOrCutRule() {
        assertThat(EmbeddingRowsInitializer.repeatOrCut(new long[] {1, 2, 3}, 8)).containsExactly(1, 2, 3, 1, 2, 3, 1, 2);
        assertThat(EmbeddingRowsInitializer.repeatOrCut(new long[] {1, 2, 3}, 1)).containsExactly(1);
        assertThat(EmbeddingRowsInitializer.repeatOrCut(new long[] {9}, 3)).containsExactly(9, 9, 9);
        assertThatThrownBy(() -> EmbeddingRowsInitializer.repeatOrCut(new long[0], 3)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void testSampleVocabularyTakesRowsOfRandomTokens() {
        TableModelContext model = new TableModelContext(HIDDEN, 10, null);
        float[] prompt = initialized(create(Map.of("num_virtual_tokens", 200, "prompt_tuning_init", "SAMPLE_VOCAB"), model));

        List<Long> tokens = model.embeddedTokens();
        assertThat(tokens).hasSize(200).allSatisfy(token -> assertThat(token).isBetween(0L, 9L));
        assertThat(new HashSet<>(tokens)).as("200 draws from 10 ids").hasSize(10);
        long[] ids = tokens.stream().mapToLong(Long::longValue).toArray();
        assertThat(prompt).containsExactly(rows(ids));
    }

    @Test
    void testRandomIsAStandardNormal() {
        TableModelContext model = new TableModelContext(64, 10, null);
        MethodInstance instance = create(Map.of("num_virtual_tokens", 50), model);
        float[] prompt = initialized(instance);

        assertThat(prompt).hasSize(50 * 64);
        double mean = 0;
        for (float value : prompt) {
            mean += value / prompt.length;
        }
        double variance = 0;
        for (float value : prompt) {
            variance += (value - mean) * (value - mean) / prompt.length;
        }
        assertThat(mean).isCloseTo(0, within(0.06));
        assertThat(Math.sqrt(variance)).isCloseTo(1, within(0.05));
        assertThat(model.embeddedTokens()).as("RANDOM reads no embeddings").isEmpty();
    }

    @Test
    void testSharedParameterAndCount() {
        MethodInstance instance = create(Map.of("num_virtual_tokens", 5), new TableModelContext(64, 128, null));
        EmbeddingSite embedding = new EmbeddingSite("model.embed_tokens", 128, 64);

        assertThat(instance.sharedParameters().keySet()).containsExactly("prompt_embeddings");
        assertThat(instance.sharedParameters().get("prompt_embeddings").getShape()).isEqualTo(new Shape(5, 64));
        assertThat(instance.trainableParameterCount(List.of(embedding))).isEqualTo(320L);
        assertThat(instance.accepts(embedding)).isTrue();
        assertThat(((PromptTuningModule) instance.attach(embedding)).numVirtualTokens()).isEqualTo(5);
        AttentionSite attention = new AttentionSite("model.layers.0.self_attn", 0, 4, 2, 16);
        assertThat(instance.accepts(attention)).isFalse();
        assertThatThrownBy(() -> instance.attach(attention))
                .hasMessage("Method 'prompt' attaches to the embedding site only, but model.layers.0.self_attn is a ATTENTION site");
        assertThatThrownBy(() -> instance.attach(new EmbeddingSite("model.embed_tokens", 128, 32)))
                .hasMessage("Method 'prompt': embedding site model.embed_tokens is 32 wide, but the prompt is 64 wide");
    }

    @Test
    void testMissingTokenizerGivesAClearError() {
        assertThatThrownBy(() -> create(Map.of("num_virtual_tokens", 4, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "classify"),
                new TableModelContext(HIDDEN, 10, null)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'prompt': option 'prompt_tuning_init' is TEXT, but the model cannot tokenize 'prompt_tuning_init_text': this model was "
                        + "loaded without a tokenizer. Load the model with its tokenizer, or use RANDOM or SAMPLE_VOCAB.");
    }

    @Test
    void testInvalidOptionsNameTheMethodKeyValueAndWhatIsAllowed() {
        TableModelContext model = new TableModelContext(HIDDEN, 10, WORDS);
        assertInvalid(Map.of("num_virtual_tokens", 0), model,
                "Method 'prompt': option 'num_virtual_tokens' is 0, but must be a whole number >= 1. Fix the value.");
        assertInvalid(Map.of("num_virtual_tokens", 3, "prompt_tuning_init", "TEXT"), model,
                "Method 'prompt': option 'prompt_tuning_init' is TEXT, which needs a non-empty 'prompt_tuning_init_text'. Add the text, or use RANDOM or SAMPLE_VOCAB.");
        assertInvalid(Map.of("num_virtual_tokens", 3, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", " "), model,
                "Method 'prompt': option 'prompt_tuning_init' is TEXT, which needs a non-empty 'prompt_tuning_init_text'. Add the text, or use RANDOM or SAMPLE_VOCAB.");
        assertInvalid(Map.of("num_virtual_tokens", 3, "prompt_tuning_init", "TEXT", "prompt_tuning_init_text", "the unknown"), model,
                "Method 'prompt': option 'prompt_tuning_init_text' tokenizes to id 500, outside the model's vocabulary of 10. Does the tokenizer belong to this model?");
        assertInvalid(Map.of("num_virtual_tokens", 3, "prompt_tuning_init", "random"), model,
                "Method 'prompt': option 'prompt_tuning_init' is \"random\", which is not allowed. Allowed values: \"RANDOM\", \"TEXT\", \"SAMPLE_VOCAB\".");
    }

    private void assertInvalid(Map<String, Object> options, ModelContext model, String message) {
        assertThatThrownBy(() -> create(options, model)).isInstanceOf(InvalidOptionsException.class).hasMessage(message);
    }

    private MethodInstance create(Map<String, Object> options, ModelContext model) {
        return method.create(method.descriptor().options().validate("prompt", options), model);
    }

    private float[] initialized(MethodInstance instance) {
        Parameter parameter = instance.sharedParameters().get("prompt_embeddings");
        parameter.initialize(manager, DataType.FLOAT32);
        return parameter.getArray().toFloatArray();
    }

    private static float[] rows(long... tokens) {
        float[] rows = new float[tokens.length * HIDDEN];
        for (int token = 0; token < tokens.length; token++) {
            System.arraycopy(TableModelContext.row(tokens[token], HIDDEN), 0, rows, token * HIDDEN, HIDDEN);
        }
        return rows;
    }
}
