package dev.graft.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.compose.Scopes;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.runtime.compose.TokenMask;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.ModelContext;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * A Llama-family decoder with a language-model head, built from DJL blocks and numerically equal to Hugging
 * Face's {@code LlamaForCausalLM}: RMSNorm, rotary embeddings, grouped-query attention, SwiGLU. Sites are named
 * like Hugging Face's modules ({@code model.layers.0.self_attn.q_proj}, {@code lm_head}).
 *
 * <p>Forward takes {@code [input_ids (batch, sequence) int64, attention_mask? (batch, sequence), position_ids?]}
 * and returns {@code [logits (batch, sequence, vocabulary)]} for the real tokens. Without position ids,
 * positions are {@code 0..sequence−1} as in Hugging Face's forward, shifted by the number of prefix tokens.
 *
 * <p>Under a {@link RowRouting} each row runs as it would alone with its adapter (or none): its positions are
 * shifted by its own adapter's prefix length; the prompt region is as wide as the longest routed prompt, each
 * row's own virtual tokens sit right before its real tokens, and the padding before them (all of it on a base
 * row) is masked out of attention, so a row's logits equal those of the row run alone.
 * Every layer runs in its own memory scope.
 */
public final class LlamaForCausalLM extends AbstractBlock implements TransformerModel {
    private static final byte VERSION = 1;

    private final LlamaConfig config;
    private final NDManager manager;
    private final TokenEmbedding embedding;
    private final List<LlamaDecoderLayer> layers = new ArrayList<>();
    private final RmsNorm norm;
    private final LinearSiteBlock languageModelHead;
    private final RotaryEmbedding rotary;
    private final SiteRegistry sites;
    private final ModelContext context;

    private LlamaForCausalLM(LlamaConfig config, NDManager manager, Function<String, long[]> tokenizer) {
        super(VERSION);
        this.config = requireNonNull(config, "config is null");
        this.manager = requireNonNull(manager, "manager is null");
        embedding = addChildBlock("embed_tokens", new TokenEmbedding(new EmbeddingSite("model.embed_tokens", config.vocabularySize(), config.hiddenSize())));
        for (int layer = 0; layer < config.numLayers(); layer++) {
            layers.add(addChildBlock("layers_" + layer, new LlamaDecoderLayer(layer, config)));
        }
        norm = addChildBlock("norm", new RmsNorm(config.rmsNormEps()));
        languageModelHead = addChildBlock("lm_head", new LinearSiteBlock(new dev.graft.spi.LinearSite("lm_head", -1, config.hiddenSize(), config.vocabularySize(), false)));
        rotary = new RotaryEmbedding(config.headDim(), config.ropeTheta(), config.ropeScaling());

        SiteRegistry.Builder registry = SiteRegistry.builder().add(embedding.site);
        for (LlamaDecoderLayer layer : layers) {
            registry.add(layer.attention.prefixSite)
                    .addLinear(layer.attention.queryProjection, layer.attention.keyProjection, layer.attention.valueProjection,
                            layer.attention.outputProjection, layer.mlp.gateProjection, layer.mlp.upProjection, layer.mlp.downProjection)
                    .add(layer.attentionSublayer)
                    .add(layer.mlpSublayer);
        }
        this.sites = registry.addLinear(languageModelHead).build();
        this.context = new StandardModelContext("llama", config.numLayers(), config.hiddenSize(), config.numAttentionHeads(), config.numKeyValueHeads(),
                config.headDim(), config.vocabularySize(), embedding.weight, tokenizer);
    }

    /**
     * Builds the model from Hugging Face-keyed weights (see {@link LlamaWeights#shapes}), which it takes
     * ownership of: they are attached to {@code manager}.
     *
     * @throws IllegalArgumentException naming the key on a missing key, an unexpected key or a wrong shape
     */
    public static LlamaForCausalLM create(LlamaConfig config, Map<String, NDArray> weights, NDManager manager, Function<String, long[]> tokenizer) {
        Map<String, NDArray> owned = ModelWeights.takeOwnership("Llama", LlamaWeights.shapes(config), weights, key -> key.endsWith("rotary_emb.inv_freq"), manager);
        LlamaForCausalLM model = new LlamaForCausalLM(config, manager, tokenizer);
        model.embedding.weight.setArray(owned.get("model.embed_tokens.weight"));
        for (int index = 0; index < model.layers.size(); index++) {
            LlamaDecoderLayer layer = model.layers.get(index);
            String prefix = "model.layers." + index;
            for (LinearSiteBlock block : List.of(layer.attention.queryProjection, layer.attention.keyProjection, layer.attention.valueProjection,
                    layer.attention.outputProjection, layer.mlp.gateProjection, layer.mlp.upProjection, layer.mlp.downProjection)) {
                String name = block.site().name();
                block.setWeights(owned.get(name + ".weight"), owned.get(name + ".bias"));
            }
            layer.inputNorm.weightParameter().setArray(owned.get(prefix + ".input_layernorm.weight"));
            layer.postAttentionNorm.weightParameter().setArray(owned.get(prefix + ".post_attention_layernorm.weight"));
        }
        model.norm.weightParameter().setArray(owned.get("model.norm.weight"));
        model.languageModelHead.setWeights(config.tieWordEmbeddings() ? owned.get("model.embed_tokens.weight") : owned.get("lm_head.weight"), null);
        return model;
    }

    public LlamaConfig config() {
        return config;
    }

    @Override
    public String modelType() {
        return "llama";
    }

    @Override
    public ModelContext context() {
        return context;
    }

    @Override
    public List<Site> sites() {
        return sites.sites();
    }

    @Override
    public SiteAttachments attachments(Site site) {
        return sites.attachments(site);
    }

    @Override
    public LinearSiteBlock linearSite(String name) {
        return sites.linearSite(name);
    }

    @Override
    public Set<String> outputLayerNames() {
        return Set.of("lm_head");
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> state = new LinkedHashMap<>();
        for (String key : LlamaWeights.shapes(config).keySet()) {
            state.put(key, parameterFor(key).getArray());
        }
        return Collections.unmodifiableMap(state);
    }

    private Parameter parameterFor(String key) {
        if (key.equals("model.embed_tokens.weight")) {
            return embedding.weight;
        }
        if (key.equals("model.norm.weight")) {
            return norm.weightParameter();
        }
        if (key.equals("lm_head.weight")) {
            return languageModelHead.weightParameter();
        }
        String[] parts = key.split("\\.");
        LlamaDecoderLayer layer = layers.get(Integer.parseInt(parts[2]));
        if (key.endsWith("input_layernorm.weight")) {
            return layer.inputNorm.weightParameter();
        }
        if (key.endsWith("post_attention_layernorm.weight")) {
            return layer.postAttentionNorm.weightParameter();
        }
        String module = key.substring(0, key.lastIndexOf('.'));
        LinearSiteBlock block = linearSite(module);
        return key.endsWith(".bias") ? block.biasParameter() : block.weightParameter();
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray tokenIds = inputs.get(0);
        NDArray attentionMask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray positionIds = inputs.size() > 2 ? inputs.get(2) : null;
        try (NDManager scope = Scopes.open(tokenIds, inputs, List.of())) {
            long batch = tokenIds.getShape().get(0);
            long sequence = tokenIds.getShape().get(1);
            int promptLength = SiteOps.promptLength(embedding.site);
            NDArray inputMask = attentionMask == null ? scope.ones(new Shape(batch, sequence)) : attentionMask.toType(DataType.FLOAT32, false);
            Optional<RowRouting> routing = RowRouting.current();
            int[] promptRows = routing.isPresent() ? SiteOps.promptRowLengths(embedding.site, routing.get()) : null;
            NDArray promptedMask = inputMask;
            if (promptLength > 0) {
                NDArray promptMask = routing.isPresent() ? routedPromptMask(scope, promptRows, promptLength) : scope.ones(new Shape(batch, promptLength));
                promptedMask = promptMask.concat(inputMask, 1);
            }
            try (TokenMask ignored = TokenMask.enter(inputMask, promptedMask)) {
                NDArray hidden = embedding.forward(parameterStore, tokenIds, training);
                NDList prompted = SiteOps.prompt(parameterStore, embedding.site, hidden, training);
                hidden = prompted.get(0);
                NDArray mask = promptedMask;
                if (prompted.size() > 1) {
                    // a gated prompt's positions are attended with its gate's weight
                    NDArray promptMask = promptedMask.get(new NDIndex(":, :{}", promptLength));
                    mask = promptMask.mul(prompted.get(1)).concat(inputMask, 1);
                }
                NDArray positions = routing.isPresent()
                        ? routedPositions(scope, routing.get(), promptRows, promptLength, sequence, positionIds)
                        : positions(scope, batch, sequence, promptLength, positionIds);
                NDList cosSin = rotary.cosSin(positions);
                for (LlamaDecoderLayer layer : layers) {
                    try (NDManager layerScope = Scopes.open(hidden, List.of(mask, cosSin.get(0), cosSin.get(1)), List.of(layer))) {
                        hidden = layerScope.ret(layer.forward(parameterStore, hidden, mask, cosSin.get(0), cosSin.get(1), training));
                    }
                }
                hidden = norm.forward(parameterStore, hidden, training);
                if (promptLength > 0) {
                    hidden = hidden.get(new NDIndex(":, {}:", promptLength));
                }
                NDArray logits = languageModelHead.forward(parameterStore, hidden, training);
                return new NDList(scope.ret(logits));
            }
        }
    }

    private NDArray positions(NDManager scope, long batch, long sequence, int promptLength, NDArray positionIds) {
        int prefixLength = 0;
        for (LlamaDecoderLayer layer : layers) {
            prefixLength = Math.max(prefixLength, SiteOps.prefixLength(layer.attention.prefixSite));
        }
        if (positionIds == null) {
            return scope.arange(prefixLength, prefixLength + promptLength + sequence).toType(DataType.INT64, false).reshape(1, promptLength + sequence);
        }
        NDArray positions = positionIds.toType(DataType.INT64, false).add(prefixLength + promptLength);
        if (promptLength > 0) {
            NDArray promptPositions = scope.arange(prefixLength, prefixLength + promptLength).toType(DataType.INT64, false).reshape(1, promptLength).repeat(0, batch);
            positions = promptPositions.concat(positions, 1);
        }
        return positions;
    }

    /** Under a routing: 1 on each row's own prompt tokens (the last {@code promptRows[row]} of the prompt region), 0 on the padding before them. */
    private static NDArray routedPromptMask(NDManager scope, int[] promptRows, int promptLength) {
        float[] values = new float[promptRows.length * promptLength];
        for (int row = 0; row < promptRows.length; row++) {
            for (int column = promptLength - promptRows[row]; column < promptLength; column++) {
                values[row * promptLength + column] = 1f;
            }
        }
        return scope.create(values, new Shape(promptRows.length, promptLength));
    }

    /**
     * Under a routing, positions {@code (batch, prompt + sequence)} as each row would get alone: its own prefix
     * length, then its own prompt tokens, then its real tokens (from {@code positionIds} when given); padding gets 0.
     */
    private NDArray routedPositions(NDManager scope, RowRouting routing, int[] promptRows, int promptLength, long sequence, NDArray positionIds) {
        int rows = routing.rows();
        long[] offsets = new long[rows];
        for (int row = 0; row < rows; row++) {
            String adapter = routing.adapterOf(row).orElse(null);
            for (LlamaDecoderLayer layer : layers) {
                offsets[row] = Math.max(offsets[row], adapter == null ? 0 : SiteOps.prefixLengths(layer.attention.prefixSite).getOrDefault(adapter, 0));
            }
        }
        long columns = positionIds == null ? promptLength + sequence : promptLength;
        long[] values = new long[(int) (rows * columns)];
        long[] realStarts = new long[rows];
        for (int row = 0; row < rows; row++) {
            long padding = promptLength - promptRows[row];
            for (int column = 0; column < columns; column++) {
                values[(int) (row * columns + column)] = Math.max(0, offsets[row] + column - padding);
            }
            realStarts[row] = offsets[row] + promptRows[row];
        }
        NDArray positions = scope.create(values, new Shape(rows, columns));
        if (positionIds == null) {
            return positions;
        }
        NDArray real = positionIds.toType(DataType.INT64, false).add(scope.create(realStarts, new Shape(rows, 1)));
        return promptLength > 0 ? positions.concat(real, 1) : real;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.vocabularySize())};
    }

    /** Nothing to do: every weight is set by {@link #create}. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {}
}
