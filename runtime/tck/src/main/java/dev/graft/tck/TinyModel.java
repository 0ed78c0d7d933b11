package dev.graft.tck;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.PeftModel;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tiny models the kit runs methods on, with seeded random weights (the same weights every time) and a fixed
 * batch of two sequences of 6 tokens:
 * <ul>
 *   <li>{@link #LLAMA}: 2 layers, hidden 64, intermediate 128, 4 heads, 2 key/value heads (grouped-query attention),
 *   vocabulary 128, no biases; the second sequence left-padded; the output is the logits;</li>
 *   <li>{@link #BERT}: 2 layers, hidden 32, intermediate 64, 4 heads, vocabulary 100, biases everywhere, a pooler;
 *   the second sequence right-padded; the output is {@code last_hidden_state}.</li>
 * </ul>
 * Each model gets its own sub-manager of the manager it is created in, so closing that manager frees it.
 */
public enum TinyModel {
    LLAMA(List.of("q_proj", "v_proj"),
            new long[][] {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}},
            new int[][] {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}}),
    BERT(List.of("query", "value"),
            new long[][] {{2, 17, 99, 3, 42, 3}, {2, 64, 12, 3, 0, 0}},
            new int[][] {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}});

    private static final long SEED = 42;

    private final List<String> attentionTargets;
    private final long[][] tokenIds;
    private final int[][] attentionMask;

    TinyModel(List<String> attentionTargets, long[][] tokenIds, int[][] attentionMask) {
        this.attentionTargets = attentionTargets;
        this.tokenIds = tokenIds;
        this.attentionMask = attentionMask;
    }

    /** The query and value projections' module names: PEFT's default {@code target_modules} for this model type. */
    public List<String> attentionTargets() {
        return attentionTargets;
    }

    /** A fresh model, float32 or float16. A float16 model holds the float32 model's weights rounded to float16. */
    public PeftModel create(NDManager manager, DataType type) {
        if (type != DataType.FLOAT32 && type != DataType.FLOAT16) {
            throw new IllegalArgumentException(format("tiny models are float32 or float16, not %s", type));
        }
        return build(manager, type, type == DataType.FLOAT16, Map.of());
    }

    /** A float32 model holding exactly the float16 model's values: what a float16 forward is compared with. */
    public PeftModel createFloat16Twin(NDManager manager) {
        return build(manager, DataType.FLOAT32, true, Map.of());
    }

    /**
     * A float32 model whose weights are this model's plus {@code weightDeltas}, keyed by Hugging Face weight key
     * ({@code model.layers.0.self_attn.q_proj.weight}), each {@code out × in}: the base a merged adapter should equal.
     */
    public PeftModel createWithDeltas(NDManager manager, Map<String, float[][]> weightDeltas) {
        return build(manager, DataType.FLOAT32, false, weightDeltas);
    }

    private PeftModel build(NDManager manager, DataType type, boolean roundToHalf, Map<String, float[][]> weightDeltas) {
        NDManager modelManager = manager.newSubManager();
        Map<String, NDArray> weights = new LinkedHashMap<>();
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> random = this == LLAMA ? LlamaWeights.random(LlamaConfig.tiny(), scratch, SEED) : BertWeights.random(BertConfig.tiny(), scratch, SEED);
            for (Map.Entry<String, NDArray> entry : random.entrySet()) {
                NDArray value = entry.getValue();
                if (roundToHalf) {
                    value = value.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
                }
                float[][] delta = weightDeltas.get(entry.getKey());
                if (delta != null) {
                    value = value.add(scratch.create(flatten(delta, entry.getKey(), value.getShape().getShape()), value.getShape()));
                }
                // duplicate() is a real copy; toType to the same type may alias the scratch array's Java buffer, freed with it
                NDArray owned = value.toType(type, false).duplicate();
                owned.attach(modelManager);
                weights.put(entry.getKey(), owned);
            }
        }
        for (String key : weightDeltas.keySet()) {
            if (!weights.containsKey(key)) {
                throw new IllegalArgumentException(format("no weight '%s' in the tiny %s model", key, name().toLowerCase(java.util.Locale.ROOT)));
            }
        }
        return this == LLAMA
                ? new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), weights, modelManager, null))
                : new PeftModel(BertModel.create(BertConfig.tiny(), weights, modelManager, null));
    }

    private static float[] flatten(float[][] matrix, String key, long[] shape) {
        if (shape.length != 2 || matrix.length != shape[0] || (matrix.length > 0 && matrix[0].length != shape[1])) {
            throw new IllegalArgumentException(format("the delta for '%s' is %d×%d, the weight's shape is %s",
                    key, matrix.length, matrix.length == 0 ? 0 : matrix[0].length, java.util.Arrays.toString(shape)));
        }
        float[] flat = new float[(int) (shape[0] * shape[1])];
        for (int row = 0; row < matrix.length; row++) {
            System.arraycopy(matrix[row], 0, flat, row * matrix[row].length, matrix[row].length);
        }
        return flat;
    }

    /** The fixed batch, {@code [input_ids, attention_mask]}, in {@code manager}. */
    public NDList inputs(NDManager manager) {
        return new NDList(manager.create(tokenIds), manager.create(attentionMask));
    }

    /** The model's main output for the fixed batch, in {@code manager} (logits for Llama, last hidden state for BERT). */
    public NDArray output(PeftModel model, NDManager manager, boolean training) {
        return model.forward(new ParameterStore(manager, false), inputs(manager), training).get(0);
    }

    /** The model's main output for the fixed batch, as float32 values (an evaluation forward). */
    public float[] output(PeftModel model, NDManager manager) {
        try (NDManager batch = manager.newSubManager()) {
            return output(model, batch, false).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }
}
