package dev.graft.plugin.prompt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Prompt tuning on the runtime's tiny Llama with a hand-written word tokenizer: TEXT starts the prompt as the text's
 * token embeddings (repeated to n), so the adapted model's logits equal the base model's on the token ids with the
 * prompt's ids in front, at the real positions; only those positions are returned.
 */
final class TestPromptTuningOnLlama {
    private static final Map<String, Long> WORDS = Map.of("summarise", 9L, "this", 33L, "text", 120L);
    private static final long[] PROMPT_IDS = {9, 33, 120, 9, 33};
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}};
    private static final long[][] PROMPT_AND_IDS = {{9, 33, 120, 9, 33, 5, 17, 99, 3, 42, 7}};
    private static final int HIDDEN = 64;

    private NDManager manager;

    @BeforeEach
    void openManager() {
        Engine.getInstance().setRandomSeed(11);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    @Test
    void testTextPromptEqualsPrependedTokensAtRealPositions() {
        LlamaConfig config = LlamaConfig.tiny();
        PeftModel model = new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 42), manager,
                text -> Arrays.stream(text.split(" ")).mapToLong(WORDS::get).toArray()));
        Adapter adapter = model.addAdapter(new AdapterSpec("default", Map.of("num_virtual_tokens", 5, "prompt_tuning_init", "TEXT",
                "prompt_tuning_init_text", "summarise this text"), TargetRules.fromConfig(Map.of()), Composition.SUM), new PromptTuningMethod());

        float[] table = model.base().stateDict().get("model.embed_tokens.weight").toFloatArray();
        float[] prompt = adapter.instance().sharedParameters().get("prompt_embeddings").getArray().toFloatArray();
        for (int token = 0; token < PROMPT_IDS.length; token++) {
            int row = (int) PROMPT_IDS[token];
            assertThat(Arrays.copyOfRange(prompt, token * HIDDEN, (token + 1) * HIDDEN)).as("virtual token %d", token)
                    .containsExactly(Arrays.copyOfRange(table, row * HIDDEN, (row + 1) * HIDDEN));
        }
        try (NDManager batch = manager.newSubManager()) {
            NDArray adapted = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS)), false).singletonOrThrow();
            model.setActiveAdapters(List.of());
            NDArray base = model.forward(new ParameterStore(batch, false), new NDList(batch.create(IDS)), false).singletonOrThrow();
            NDArray prepended = model.forward(new ParameterStore(batch, false), new NDList(batch.create(PROMPT_AND_IDS)), false).singletonOrThrow();

            assertThat(adapted.getShape()).as("(batch, sequence, vocabulary): virtual positions excluded").isEqualTo(new Shape(1, 6, 128));
            assertThat(adapted.toFloatArray()).containsExactly(prepended.get(new NDIndex(":, 5:, :")).toFloatArray(), within(1e-4f));
            assertThat(adapted.sub(base).abs().max().getFloat()).as("the prompt changes the logits").isGreaterThan(1e-3f);
        }
    }
}
