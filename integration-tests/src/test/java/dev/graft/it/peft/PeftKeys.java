package dev.graft.it.peft;

import java.util.ArrayList;
import java.util.List;

/**
 * PEFT's checkpoint key rules, written out: a module tensor is saved as {@code base_model.model.<module>.<tensor>}
 * with the adapter name dropped ({@code ...q_proj.lora_A.default.weight} becomes {@code ...q_proj.lora_A.weight},
 * {@code ...vera_lambda_b.default} becomes {@code ...vera_lambda_b}); VeRA's shared projections are saved once as
 * {@code base_model.vera_A} and {@code base_model.vera_B} ({@code get_peft_model_state_dict}). The module path is the
 * one inside the wrapped model: {@code model.layers.0...} in a {@code LlamaForCausalLM}, {@code encoder.layer.0...} in
 * a bare {@code BertModel} (PEFT's {@code developer_guides/checkpoint.md} lists
 * {@code base_model.model.encoder.layer.0.attention.self.query.lora_A.weight} for BERT). The prompt-learning methods
 * save one key, {@code prompt_embeddings}, with no prefix.
 */
final class PeftKeys {
    /** VeRA's shared down projection, {@code (r, max_in)}. */
    static final String VERA_A = "base_model.vera_A";
    /** VeRA's shared up projection, {@code (max_out, r)}. */
    static final String VERA_B = "base_model.vera_B";

    private PeftKeys() {}

    /** The key of tensor {@code tensor} (e.g. {@code lora_A.weight}) of module {@code module}. */
    static String of(String module, String tensor) {
        return "base_model.model." + module + "." + tensor;
    }

    /**
     * The Llama module names {@code model.layers.<i>.<relative>} for every layer {@code i < layers}, layer by layer,
     * each layer's modules in the order given (e.g. {@code self_attn.q_proj}, {@code mlp.down_proj}).
     */
    static List<String> inEveryLayer(int layers, String... relativeNames) {
        return inEveryLayer("model.layers.", layers, relativeNames);
    }

    /**
     * The BERT module names {@code encoder.layer.<i>.<relative>} for every layer {@code i < layers}, layer by layer,
     * each layer's modules in the order given (e.g. {@code attention.self.query}, {@code output.dense}).
     */
    static List<String> inEveryEncoderLayer(int layers, String... relativeNames) {
        return inEveryLayer("encoder.layer.", layers, relativeNames);
    }

    private static List<String> inEveryLayer(String stem, int layers, String... relativeNames) {
        List<String> modules = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            for (String relative : relativeNames) {
                modules.add(stem + layer + "." + relative);
            }
        }
        return List.copyOf(modules);
    }
}
