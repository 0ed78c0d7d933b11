package dev.graft.it.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The BERT-family test model of issue 5, a bare Hugging Face {@code BertModel} (hidden 64, 4 heads, 2 layers,
 * intermediate 128, vocabulary 128, with a pooler) with seeded random weights, as PEFT wraps it for
 * {@code FEATURE_EXTRACTION}: adapter keys are {@code base_model.model.} + the module path
 * ({@code base_model.model.encoder.layer.0.attention.self.query.lora_A.weight}, as PEFT's
 * {@code docs/source/developer_guides/checkpoint.md} lists them for BERT). Outputs are {@code last_hidden_state}, every
 * position (padding included: BERT computes it there too). The test batch has no {@code token_type_ids}:
 * {@code PeftModelForFeatureExtraction} drops them for the prompt-learning methods, so BERT takes type 0 everywhere.
 *
 * <p>The oracle is Graft's own {@link BertModel}, run with plain weights: the weights with the adapter merged in by hand
 * in float64 ({@link HandMerge}), rounded to float32. That model is proven against an independent float64 reference of
 * Hugging Face's {@code BertModel} in the runtime's tests ({@code TestBertModel}, virtual tokens and prefix keys/values
 * included), so it can stand in for Hugging Face here; what is under test is the adapters, and the oracle runs no
 * plugin. Every model lives in a sub-manager of one manager, closed with this fixture.
 */
final class TinyBert implements InteropModel {
    /** The shape of issue 5, 32 positions, 2 token types, with a pooler. */
    static final BertConfig CONFIG = new BertConfig(128, 64, 2, 4, 128, 32, 2, 1e-12, true);
    /** {@link #CONFIG} as PEFT sees it, wrapped for feature extraction. */
    static final PeftBase BASE = peftBase();

    /** Two sequences, the second right-padded, with tokens across the vocabulary. */
    private static final long[][] IDS = {{2, 17, 99, 3, 42, 7}, {2, 64, 12, 127, 0, 0}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
    private static final long SEED = 20241207;

    private final NDManager manager = NDManager.newBaseManager();

    private static PeftBase peftBase() {
        Map<String, Integer> modelConfig = new LinkedHashMap<>();
        modelConfig.put("num_hidden_layers", CONFIG.numLayers());
        modelConfig.put("hidden_size", CONFIG.hiddenSize());
        modelConfig.put("num_attention_heads", CONFIG.numAttentionHeads());
        return new PeftBase("graft-tests/tiny-bert", "FEATURE_EXTRACTION", BertWeights.shapes(CONFIG), modelConfig);
    }

    @Override
    public PeftBase base() {
        return BASE;
    }

    @Override
    public PeftModel newModel() {
        NDManager modelManager = manager.newSubManager();
        return new PeftModel(BertModel.create(CONFIG, BertWeights.random(CONFIG, modelManager, SEED), modelManager, null));
    }

    @Override
    public float[] outputs(PeftModel model) {
        try (NDManager batch = manager.newSubManager()) {
            NDList inputs = new NDList(batch.create(IDS), batch.create(MASK));
            return model.forward(new ParameterStore(batch, false), inputs, false).get(0).toFloatArray();
        }
    }

    /**
     * {@code last_hidden_state} of a plain {@link BertModel} over the seeded weights with {@code effect}'s merge folded
     * in. A prompt goes in as PEFT's feature extraction passes it, {@code inputs_embeds} = prompt ⊕ token embeddings with
     * n ones in front of the mask, through {@link PromptAsTokens} (a vocabulary n larger), so the virtual tokens take
     * token type 0 and positions {@code 0..n−1}, as in Hugging Face; the virtual positions are dropped from the result,
     * as Graft drops them. A prefix goes in as PEFT passes it, {@code past_key_values}: a {@link FixedPrefix} per
     * layer, the one module the oracle runs (BERT then starts positions at n, as {@code BertEmbeddings} does after
     * {@code past_key_values_length}).
     */
    @Override
    public double[][][] expectedOutputs(PeftEffect effect) {
        Map<String, double[]> weights = new LinkedHashMap<>();
        try (NDManager scratch = manager.newSubManager()) {
            BertWeights.random(CONFIG, scratch, SEED).forEach((key, array) -> weights.put(key, widen(array.toFloatArray())));
        }
        effect.merge().accept(new HandMerge(BASE, weights));
        int virtual = effect.prompt() == null ? 0 : effect.prompt().length;
        int hidden = CONFIG.hiddenSize();
        BertConfig config = new BertConfig(CONFIG.vocabularySize() + virtual, hidden, CONFIG.numLayers(), CONFIG.numAttentionHeads(),
                CONFIG.intermediateSize(), CONFIG.maxPositionEmbeddings(), CONFIG.typeVocabularySize(), CONFIG.layerNormEps(), CONFIG.addPoolingLayer());
        if (virtual > 0) {
            weights.put("embeddings.word_embeddings.weight", PromptAsTokens.appendRows(weights.get("embeddings.word_embeddings.weight"), CONFIG.vocabularySize(), effect.prompt()));
        }
        long[][] ids = PromptAsTokens.prependIds(IDS, CONFIG.vocabularySize(), virtual);
        int[][] mask = PromptAsTokens.prependOnes(MASK, virtual);
        try (NDManager oracleManager = manager.newSubManager()) {
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            BertWeights.shapes(config).forEach((key, shape) -> arrays.put(key, oracleManager.create(narrow(weights.get(key)), shape)));
            BertModel oracle = BertModel.create(config, arrays, oracleManager, null);
            if (effect.prefixKeys() != null) {
                for (Site site : oracle.sites()) {
                    if (site.kind() == SiteKind.ATTENTION) {
                        FixedPrefix prefix = new FixedPrefix(site, effect.prefixKeys()[site.layerIndex()], effect.prefixValues()[site.layerIndex()]);
                        oracle.attachments(site).add(new Attachment("peft", "past_key_values", prefix, null));
                    }
                }
            }
            NDList inputs = new NDList(oracleManager.create(ids), oracleManager.create(mask));
            float[] flat = oracle.forward(new ParameterStore(oracleManager, false), inputs, false).get(0).toFloatArray();
            int sequence = virtual + IDS[0].length;
            double[][][] real = new double[IDS.length][IDS[0].length][hidden];
            for (int example = 0; example < IDS.length; example++) {
                for (int position = 0; position < IDS[0].length; position++) {
                    for (int unit = 0; unit < hidden; unit++) {
                        real[example][position][unit] = flat[(example * sequence + virtual + position) * hidden + unit];
                    }
                }
            }
            return real;
        }
    }

    /** Every position: BERT computes {@code last_hidden_state} at padding too, from the same weights. */
    @Override
    public boolean compares(int example, int position) {
        return true;
    }

    @Override
    public void close() {
        manager.close();
    }

    private static double[] widen(float[] values) {
        double[] widened = new double[values.length];
        for (int index = 0; index < values.length; index++) {
            widened[index] = values[index];
        }
        return widened;
    }

    private static float[] narrow(double[] values) {
        float[] narrowed = new float[values.length];
        for (int index = 0; index < values.length; index++) {
            narrowed[index] = (float) values[index];
        }
        return narrowed;
    }
}
