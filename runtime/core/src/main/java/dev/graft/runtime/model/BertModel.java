package dev.graft.runtime.model;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.Scopes;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.compose.SiteOps;
import dev.graft.runtime.compose.TokenMask;
import dev.graft.spi.LinearSite;
import dev.graft.spi.ModelContext;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A BERT-family encoder built from DJL blocks and numerically equal to Hugging Face's {@code BertModel}: absolute
 * position and token-type embeddings, post-LN layers, exact GELU, an optional tanh pooler. Sites are named like
 * Hugging Face's modules ({@code encoder.layer.0.attention.self.query}, {@code pooler.dense}).
 *
 * <p>Forward takes {@code [input_ids (batch, sequence) int64, attention_mask? (batch, sequence),
 * token_type_ids? (batch, sequence), position_ids? (batch or 1, sequence)]} (Hugging Face's argument order) and
 * returns {@code [last_hidden_state (batch, sequence, hidden)]}, followed by {@code pooler_output (batch, hidden)}
 * when the model has a pooler. Missing token types are 0; missing positions are {@code 0..sequence−1}.
 *
 * <p>Adapters follow what PEFT does with a Hugging Face {@code BertModel}:
 * <ul>
 *   <li>prompt tuning passes {@code inputs_embeds} = virtual tokens ⊕ word embeddings, so token type 0 and the
 *   first positions go to the virtual tokens, and real tokens move up by their number; the pooler reads the
 *   first position, a virtual token; {@code last_hidden_state} holds only the real positions;</li>
 *   <li>prefix tuning passes {@code past_key_values}, and {@code BertEmbeddings} then starts positions at
 *   {@code past_key_values_length}: real tokens move up by the number of virtual keys.</li>
 * </ul>
 * Every layer runs in its own memory scope.
 */
public final class BertModel extends AbstractBlock implements TransformerModel {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final NDManager manager;
    private final BertEmbeddings embeddings;
    private final List<BertLayer> layers = new ArrayList<>();
    private final LinearSiteBlock pooler;
    private final SiteRegistry sites;
    private final ModelContext context;

    private BertModel(BertConfig config, NDManager manager, Function<String, long[]> tokenizer) {
        super(VERSION);
        this.config = requireNonNull(config, "config is null");
        this.manager = requireNonNull(manager, "manager is null");
        embeddings = addChildBlock("embeddings", new BertEmbeddings(config));
        for (int layer = 0; layer < config.numLayers(); layer++) {
            layers.add(addChildBlock("layer_" + layer, new BertLayer(layer, config)));
        }
        pooler = config.addPoolingLayer()
                ? addChildBlock("pooler", new LinearSiteBlock(new LinearSite("pooler.dense", -1, config.hiddenSize(), config.hiddenSize(), true)))
                : null;

        SiteRegistry.Builder registry = SiteRegistry.builder().add(embeddings.wordEmbeddings.site);
        for (BertLayer layer : layers) {
            registry.add(layer.attention.prefixSite)
                    .addLinear(layer.attention.query, layer.attention.key, layer.attention.value, layer.attentionOutput)
                    .add(layer.attentionSublayer)
                    .addLinear(layer.intermediate, layer.output)
                    .add(layer.feedForwardSublayer);
        }
        if (pooler != null) {
            registry.addLinear(pooler);
        }
        this.sites = registry.build();
        this.context = new StandardModelContext("bert", config.numLayers(), config.hiddenSize(), config.numAttentionHeads(), config.numAttentionHeads(),
                config.headDim(), config.vocabularySize(), embeddings.wordEmbeddings.weight, tokenizer);
    }

    /**
     * Builds the model from Hugging Face-keyed weights (see {@link BertWeights#shapes}), which it takes ownership
     * of: they are attached to {@code manager}. The buffers {@code embeddings.position_ids} and
     * {@code embeddings.token_type_ids} are ignored if present.
     *
     * @param tokenizer text to token ids without special tokens, or {@code null}
     * @throws IllegalArgumentException naming the key on a missing key, an unexpected key or a wrong shape
     */
    public static BertModel create(BertConfig config, Map<String, NDArray> weights, NDManager manager, Function<String, long[]> tokenizer) {
        Map<String, NDArray> owned = ModelWeights.takeOwnership("BERT", BertWeights.shapes(config), weights,
                key -> key.equals("embeddings.position_ids") || key.equals("embeddings.token_type_ids"), manager);
        BertModel model = new BertModel(config, manager, tokenizer);
        for (Map.Entry<String, NDArray> entry : owned.entrySet()) {
            model.parameterFor(entry.getKey()).setArray(entry.getValue());
        }
        return model;
    }

    public BertConfig config() {
        return config;
    }

    @Override
    public String modelType() {
        return "bert";
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

    /**
     * None: PEFT's {@code all-linear} leaves out only {@code get_output_embeddings()} (a bare {@code BertModel} has
     * none) or, for sequence classification, the {@code classifier}/{@code score} head, so {@code pooler.dense} is
     * targeted.
     */
    @Override
    public Set<String> outputLayerNames() {
        return Set.of();
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> state = new LinkedHashMap<>();
        for (String key : BertWeights.shapes(config).keySet()) {
            state.put(key, parameterFor(key).getArray());
        }
        return Collections.unmodifiableMap(state);
    }

    private Parameter parameterFor(String key) {
        switch (key) {
            case "embeddings.word_embeddings.weight":
                return embeddings.wordEmbeddings.weight;
            case "embeddings.position_embeddings.weight":
                return embeddings.positionEmbeddings;
            case "embeddings.token_type_embeddings.weight":
                return embeddings.tokenTypeEmbeddings;
            case "embeddings.LayerNorm.weight":
                return embeddings.layerNorm.weightParameter();
            case "embeddings.LayerNorm.bias":
                return embeddings.layerNorm.biasParameter();
            default:
                break;
        }
        String module = key.substring(0, key.lastIndexOf('.'));
        boolean weight = key.endsWith(".weight");
        if (module.endsWith(".LayerNorm")) {
            BertLayer layer = layers.get(Integer.parseInt(key.split("\\.")[2]));
            LayerNormalization norm = module.endsWith(".attention.output.LayerNorm") ? layer.attentionNorm : layer.outputNorm;
            return weight ? norm.weightParameter() : norm.biasParameter();
        }
        LinearSiteBlock block = linearSite(module);
        return weight ? block.weightParameter() : block.biasParameter();
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray tokenIds = inputs.get(0);
        NDArray attentionMask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray tokenTypeIds = inputs.size() > 2 ? inputs.get(2) : null;
        NDArray positionIds = inputs.size() > 3 ? inputs.get(3) : null;
        checkInputs(tokenIds, attentionMask, tokenTypeIds);
        RowRouting.current().ifPresent(routing -> checkRoutable());
        List<Block> outer = pooler == null ? List.of(embeddings) : List.of(embeddings, pooler);
        try (NDManager scope = Scopes.open(tokenIds, inputs, outer)) {
            long batch = tokenIds.getShape().get(0);
            long sequence = tokenIds.getShape().get(1);
            int promptLength = SiteOps.promptLength(embeddings.wordEmbeddings.site);
            int prefixLength = 0;
            for (BertLayer layer : layers) {
                prefixLength = Math.max(prefixLength, SiteOps.prefixLength(layer.attention.prefixSite));
            }
            NDArray inputMask = attentionMask == null ? scope.ones(new Shape(batch, sequence)) : attentionMask.toType(DataType.FLOAT32, false);
            NDArray promptedMask = promptLength > 0 ? scope.ones(new Shape(batch, promptLength)).concat(inputMask, 1) : inputMask;
            try (TokenMask ignored = TokenMask.enter(inputMask, promptedMask)) {
                NDArray words = embeddings.wordEmbeddings.forward(parameterStore, tokenIds, training);
                NDList prompted = SiteOps.prompt(parameterStore, embeddings.wordEmbeddings.site, words, training);
                words = prompted.get(0);
                NDArray tokenTypes = tokenTypeIds == null ? scope.zeros(new Shape(batch, sequence), DataType.INT64) : tokenTypeIds.toType(DataType.INT64, false);
                if (promptLength > 0) {
                    tokenTypes = scope.zeros(new Shape(batch, promptLength), DataType.INT64).concat(tokenTypes, 1);
                }
                // a gated prompt's positions are attended with its gate's weight
                NDArray mask = prompted.size() > 1 ? prompted.get(1).concat(inputMask, 1) : promptedMask;
                NDArray positions = positions(scope, positionIds, batch, sequence, promptLength, prefixLength);
                NDArray hidden = embeddings.forward(parameterStore, words, tokenTypes, positions, training);
                NDArray maskBias = SiteOps.attentionBias(mask).reshape(batch, 1, 1, promptLength + sequence);
                for (BertLayer layer : layers) {
                    try (NDManager layerScope = Scopes.open(hidden, List.of(maskBias), List.of(layer))) {
                        hidden = layerScope.ret(layer.forward(parameterStore, hidden, maskBias, training));
                    }
                }
                NDArray lastHiddenState = promptLength > 0 ? hidden.get(new NDIndex(":, {}:", promptLength)) : hidden;
                if (pooler == null) {
                    return new NDList(scope.ret(lastHiddenState));
                }
                NDArray pooled = pooler.forward(parameterStore, hidden.get(new NDIndex(":, 0")), training).tanh();
                return new NDList(scope.ret(lastHiddenState), scope.ret(pooled));
            }
        }
    }

    /**
     * Per-row routing of prompt or prefix adapters needs per-row positions and a pooled token per row, which this
     * model does not lay out yet; linear, scaling, weight-transform and sublayer adapters route here as anywhere.
     */
    private void checkRoutable() {
        List<String> refused = new ArrayList<>();
        refused.addAll(SiteOps.promptLengths(embeddings.wordEmbeddings.site).keySet());
        for (BertLayer layer : layers) {
            for (String name : SiteOps.prefixLengths(layer.attention.prefixSite).keySet()) {
                if (!refused.contains(name)) {
                    refused.add(name);
                }
            }
        }
        if (!refused.isEmpty()) {
            throw new IllegalStateException(format(
                    "per-row adapter routing on a BERT model does not support prompt or prefix adapters yet (routed: %s); run their rows in separate batches",
                    refused));
        }
    }

    private void checkInputs(NDArray tokenIds, NDArray attentionMask, NDArray tokenTypeIds) {
        Shape shape = tokenIds.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException(format("input_ids must have shape (batch, sequence), found %s", shape));
        }
        if (attentionMask != null && !attentionMask.getShape().equals(shape)) {
            throw new IllegalArgumentException(format("attention_mask has shape %s, but input_ids has %s", attentionMask.getShape(), shape));
        }
        checkRange("input_ids", tokenIds, config.vocabularySize(), "vocab_size");
        if (tokenTypeIds != null) {
            if (!tokenTypeIds.getShape().equals(shape)) {
                throw new IllegalArgumentException(format("token_type_ids has shape %s, but input_ids has %s", tokenTypeIds.getShape(), shape));
            }
            checkRange("token_type_ids", tokenTypeIds, config.typeVocabularySize(), "type_vocab_size");
        }
    }

    private static void checkRange(String what, NDArray ids, int size, String field) {
        if (ids.isEmpty()) {
            return;
        }
        try (NDArray minimum = ids.min(); NDArray maximum = ids.max()) {
            long low = minimum.toType(DataType.INT64, false).getLong();
            long high = maximum.toType(DataType.INT64, false).getLong();
            if (low < 0 || high >= size) {
                throw new IllegalArgumentException(format("%s holds ids from %d to %d, but this model has %d (%s)", what, low, high, size, field));
            }
        }
    }

    /** Hugging Face's positions: {@code past_key_values_length + 0..}, or the given ones moved up past the virtual tokens. */
    private NDArray positions(NDManager scope, NDArray positionIds, long batch, long sequence, int promptLength, int prefixLength) {
        long total = promptLength + sequence;
        NDArray positions;
        if (positionIds == null) {
            positions = scope.arange(prefixLength, prefixLength + total).toType(DataType.INT64, false).reshape(1, total);
        }
        else {
            positions = positionIds.toType(DataType.INT64, false).add(prefixLength + promptLength);
            if (promptLength > 0) {
                NDArray promptPositions = scope.arange(prefixLength, prefixLength + promptLength).toType(DataType.INT64, false)
                        .reshape(1, promptLength).repeat(0, positions.getShape().get(0));
                positions = promptPositions.concat(positions, 1);
            }
        }
        try (NDArray maximum = positions.max()) {
            long highest = maximum.getLong();
            if (highest >= config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException(format(
                        "position %d (%d tokens after %d prompt and %d prefix tokens) is beyond max_position_embeddings %d: shorten or truncate the input",
                        highest, sequence, promptLength, prefixLength, config.maxPositionEmbeddings()));
            }
        }
        return positions;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape hidden = new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.hiddenSize());
        if (pooler == null) {
            return new Shape[] {hidden};
        }
        return new Shape[] {hidden, new Shape(inputShapes[0].get(0), config.hiddenSize())};
    }

    /** Nothing to do: every weight is set by {@link #create}. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {}
}
