package dev.graft.it.peft;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Prefix tuning and prompt tuning as Python PEFT 0.14 saves them for a {@link PeftBase}: the config with the sizes PEFT
 * fills in from the model, and the one tensor {@code prompt_embeddings}, without a prefix (the whole checkpoint of a
 * prompt-learning method, {@code utils.save_and_load.get_peft_model_state_dict}). With {@code inference_mode} true, as
 * every saved config has it, PEFT uses that tensor as it is ({@code PeftModel.get_prompt} reads
 * {@code prompt_encoder.embedding.weight}), so what PEFT computes is written out here from the tensor alone. The values
 * are drawn as PEFT initialises them: a fresh {@code torch.nn.Embedding}, N(0, 1).
 */
final class PromptLearningScenarios {
    /** The checkpoint key of both methods. */
    static final String PROMPT_EMBEDDINGS = "prompt_embeddings";

    private PromptLearningScenarios() {}

    /**
     * Prefix tuning without projection, {@code n} virtual tokens: {@code prompt_embeddings (n, num_layers·2·token_dim)}.
     * PEFT's {@code get_prompt} views it as {@code (batch, n, 2·num_layers, num_attention_heads, token_dim /
     * num_attention_heads)}, permutes that to {@code (2·num_layers, batch, heads, n, head_dim)} ({@code [2, 0, 3, 1, 4]})
     * and splits it in pairs: layer i's keys are index 2i, its values 2i+1. So key {@code h, t, d} of layer i is column
     * {@code ((2i)·heads + h)·head_dim + d} of row t, and its value the same with {@code 2i+1}. With grouped-query
     * attention {@code token_dim} and {@code num_attention_heads} are the key/value heads' (see {@link PeftConfigs}).
     */
    static PeftScenario prefixTuning(PeftBase base, int virtualTokens) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("num_virtual_tokens", virtualTokens);
        Map<String, Object> config = PeftConfigs.prefixTuning(base, fields);
        int layers = (int) config.get("num_layers");
        int heads = (int) config.get("num_attention_heads");
        int tokenDim = (int) config.get("token_dim");
        int headDim = tokenDim / heads;
        PlainTensor prompt = PlainTensor.gaussian(new Random(base.nameOrPath().hashCode() + 1), 0, 1, virtualTokens, layers * 2 * tokenDim);
        double[][][][] keys = new double[layers][heads][virtualTokens][headDim];
        double[][][][] values = new double[layers][heads][virtualTokens][headDim];
        for (int layer = 0; layer < layers; layer++) {
            for (int head = 0; head < heads; head++) {
                for (int token = 0; token < virtualTokens; token++) {
                    for (int dim = 0; dim < headDim; dim++) {
                        keys[layer][head][token][dim] = prompt.at(token, ((2 * layer) * heads + head) * headDim + dim);
                        values[layer][head][token][dim] = prompt.at(token, ((2 * layer + 1) * heads + head) * headDim + dim);
                    }
                }
            }
        }
        PeftAdapter peft = new PeftAdapter(config, Map.of(PROMPT_EMBEDDINGS, prompt));
        return new PeftScenario("prefix-tuning", fields, peft, PeftEffect.prefix(keys, values), List.of());
    }

    /**
     * Prompt tuning, {@code n} virtual tokens, {@code prompt_tuning_init: RANDOM}: {@code prompt_embeddings
     * (n·num_transformer_submodules, token_dim)}, one row per virtual token (one submodule outside seq2seq), put in front
     * of the token embeddings.
     */
    static PeftScenario promptTuning(PeftBase base, int virtualTokens) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("num_virtual_tokens", virtualTokens);
        Map<String, Object> config = PeftConfigs.promptTuning(base, fields);
        int rows = virtualTokens * (int) config.get("num_transformer_submodules");
        int tokenDim = (int) config.get("token_dim");
        PlainTensor prompt = PlainTensor.gaussian(new Random(base.nameOrPath().hashCode() + 2), 0, 1, rows, tokenDim);
        double[][] embeddings = new double[rows][tokenDim];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < tokenDim; column++) {
                embeddings[row][column] = prompt.at(row, column);
            }
        }
        PeftAdapter peft = new PeftAdapter(config, Map.of(PROMPT_EMBEDDINGS, prompt));
        return new PeftScenario("prompt-tuning", fields, peft, PeftEffect.prompt(embeddings),
                List.of("tokenizer_kwargs"));
    }
}
