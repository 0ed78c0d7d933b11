package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaReference;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.PeftModel;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The test model, {@link LlamaConfig#tiny()} (or a variant) with seeded random weights, twice: as Graft
 * {@link PeftModel}s and as float64 arrays for {@link LlamaReference}, the oracle. Outputs are logits. Every model lives
 * in a sub-manager of one manager, closed with this fixture.
 */
final class TinyLlama implements InteropModel {
    /** {@link LlamaConfig#tiny()} as PEFT sees it, wrapped as a causal LM. */
    static final PeftBase BASE = base(LlamaConfig.tiny());

    /** Two sequences, the second left-padded, with tokens across the vocabulary. */
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long SEED = 20241206;

    private final LlamaConfig config;
    private final NDManager manager;

    private TinyLlama(LlamaConfig config) {
        this.config = requireNonNull(config, "config is null");
        this.manager = NDManager.newBaseManager();
    }

    /** {@link LlamaConfig#tiny()}: 2 layers, hidden 64, intermediate 128, 4 heads, 2 key/value heads, no biases. */
    static TinyLlama tiny() {
        return new TinyLlama(LlamaConfig.tiny());
    }

    /** The tiny shape with biases on every attention and MLP projection (as Qwen2-style checkpoints have). */
    static TinyLlama tinyWithBiases() {
        LlamaConfig tiny = LlamaConfig.tiny();
        return new TinyLlama(new LlamaConfig(tiny.vocabularySize(), tiny.hiddenSize(), tiny.intermediateSize(), tiny.numLayers(), tiny.numAttentionHeads(),
                tiny.numKeyValueHeads(), tiny.headDim(), tiny.rmsNormEps(), tiny.ropeTheta(), tiny.tieWordEmbeddings(), true, true));
    }

    @Override
    public PeftBase base() {
        return base(config);
    }

    private static PeftBase base(LlamaConfig config) {
        Map<String, Integer> modelConfig = new LinkedHashMap<>();
        modelConfig.put("num_hidden_layers", config.numLayers());
        modelConfig.put("hidden_size", config.hiddenSize());
        modelConfig.put("num_attention_heads", config.numAttentionHeads());
        modelConfig.put("num_key_value_heads", config.numKeyValueHeads());
        return new PeftBase("graft-tests/tiny-llama", "CAUSAL_LM", LlamaWeights.shapes(config), modelConfig);
    }

    @Override
    public PeftModel newModel() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, modelManager, SEED), modelManager, null));
    }

    /** A fresh float64 copy of the seeded base weights, by Hugging Face key. */
    private Map<String, double[]> baseWeights() {
        Map<String, double[]> weights = new LinkedHashMap<>();
        try (NDManager scratch = manager.newSubManager()) {
            LlamaWeights.random(config, scratch, SEED).forEach((key, array) -> {
                float[] values = array.toFloatArray();
                double[] widened = new double[values.length];
                for (int index = 0; index < values.length; index++) {
                    widened[index] = values[index];
                }
                weights.put(key, widened);
            });
        }
        return weights;
    }

    /** Graft's logits for the test batch, flat {@code [batch][sequence][vocabulary]}. */
    @Override
    public float[] outputs(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(IDS), batch.create(MASK));
            NDArray logits = model.forward(new ParameterStore(batch, false), inputs, false).singletonOrThrow();
            return logits.toFloatArray();
        }
    }

    /**
     * The reference logits: {@link LlamaReference} over the base weights with {@code effect}'s merge folded in, and
     * its virtual tokens. PEFT's causal LM passes a prefix as {@code past_key_values}, so real positions start at n (no
     * {@code position_ids} are given: Hugging Face counts from the cache length). It passes a prompt as
     * {@code inputs_embeds} = prompt ⊕ token embeddings with n ones in front of the mask, so the prompt takes positions
     * {@code 0..n−1}; the reference reads ids, so the prompt goes in as {@link PromptAsTokens} (the weights are untied:
     * {@code lm_head} does not see the appended rows).
     * Only the real positions are returned, as Graft returns them.
     */
    @Override
    public double[][][] expectedOutputs(PeftEffect effect) {
        Map<String, double[]> weights = baseWeights();
        effect.merge().accept(new HandMerge(base(), weights));
        if (effect.prefixKeys() != null) {
            int virtual = effect.prefixKeys()[0][0].length;
            return new LlamaReference(config, weights).logits(IDS, MASK, virtual, effect.prefixKeys(), effect.prefixValues());
        }
        if (effect.prompt() == null) {
            return new LlamaReference(config, weights).logits(IDS, MASK, 0, null, null);
        }
        if (config.tieWordEmbeddings()) {
            throw new IllegalStateException("the prompt rows would change lm_head's tied weights");
        }
        int virtual = effect.prompt().length;
        weights.put("model.embed_tokens.weight", PromptAsTokens.appendRows(weights.get("model.embed_tokens.weight"), config.vocabularySize(), effect.prompt()));
        long[][] ids = PromptAsTokens.prependIds(IDS, config.vocabularySize(), virtual);
        int[][] mask = PromptAsTokens.prependOnes(MASK, virtual);
        double[][][] logits = new LlamaReference(config, weights).logits(ids, mask, 0, null, null);
        double[][][] real = new double[logits.length][][];
        for (int example = 0; example < logits.length; example++) {
            real[example] = Arrays.copyOfRange(logits[example], virtual, logits[example].length);
        }
        return real;
    }

    /** The real (unpadded) positions: logits at padding are not compared. */
    @Override
    public boolean compares(int example, int position) {
        return MASK[example][position] == 1;
    }

    @Override
    public void close() {
        manager.close();
    }
}
