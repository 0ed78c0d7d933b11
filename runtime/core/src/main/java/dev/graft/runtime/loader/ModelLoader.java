package dev.graft.runtime.loader;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import dev.graft.runtime.format.Checkpoint;
import dev.graft.runtime.format.Checkpoints;
import dev.graft.runtime.format.SafetensorsException;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.RopeScaling;
import dev.graft.runtime.model.TransformerModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads a Hugging Face model directory: {@code config.json} (with {@code model_type} {@code llama}, {@code mistral}
 * — a Llama without sliding-window attention — or {@code bert}), the weights from {@code model.safetensors} or a
 * sharded checkpoint's index, and {@code tokenizer.json} when there is one. Checkpoints of BERT with heads
 * ({@code bert.}-prefixed keys, as {@code BertForPreTraining} saves them) give their {@code BertModel} part, as
 * {@code BertModel.from_pretrained} does.
 */
public final class ModelLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);
    private static final String TOKENIZER_FILE = "tokenizer.json";
    private static final List<String> MODEL_TYPES = List.of("llama", "mistral", "bert");

    private ModelLoader() {}

    /** Loads the model in {@code directory} into {@code manager}, weights as float32. */
    public static LoadedModel load(Path directory, NDManager manager) {
        return load(directory, manager, WeightPrecision.FLOAT32);
    }

    /**
     * Loads the model in {@code directory} into {@code manager}, its weights in {@code precision}.
     *
     * @throws ModelLoadException with a one-line message on a missing directory, {@code config.json} or weights file,
     *         an unsupported {@code model_type} or option, a missing, unexpected or misshapen weight (named), or, in
     *         {@link WeightPrecision#HALF}, a weight value beyond float16's range (the tensor and element named)
     */
    public static LoadedModel load(Path directory, NDManager manager, WeightPrecision precision) {
        requireNonNull(directory, "directory is null");
        requireNonNull(manager, "manager is null");
        requireNonNull(precision, "precision is null");
        if (!Files.isDirectory(directory)) {
            throw new ModelLoadException(format("model directory %s does not exist or is not a directory", directory));
        }
        HuggingFaceConfig config = HuggingFaceConfig.read(directory);
        String modelType = config.modelType();
        if (!MODEL_TYPES.contains(modelType)) {
            throw config.error(format("has model_type '%s', which Graft cannot load; it loads %s", modelType, MODEL_TYPES));
        }
        HuggingFaceTokenizer tokenizer = tokenizer(directory);
        Function<String, long[]> tokenize = tokenizer == null ? null : text -> tokenizer.encode(text, false, false).getIds();
        try {
            TransformerModel model = modelType.equals("bert")
                    ? loadBert(config, directory, manager, precision, tokenize)
                    : loadLlama(config, directory, manager, precision, tokenize);
            byte[] tokenizerJson = tokenizer == null ? null : readBytes(directory.resolve(TOKENIZER_FILE));
            return new LoadedModel(model, tokenizer, tokenizerJson, config.tokenId("eos_token_id"));
        }
        catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            throw e;
        }
    }

    private static LlamaForCausalLM loadLlama(HuggingFaceConfig json, Path directory, NDManager manager, WeightPrecision precision, Function<String, long[]> tokenize) {
        String family = json.modelType();
        String activation = json.stringOr("hidden_act", "silu");
        if (!activation.equals("silu")) {
            throw json.error(format("has hidden_act '%s'; a %s model uses silu", activation, family));
        }
        if (family.equals("mistral") && json.intOr("sliding_window", 0) > 0) {
            LOG.warn("{}: sliding_window {} is not applied: sequences longer than the window attend to all earlier tokens", json.file(), json.intOr("sliding_window", 0));
        }
        int hidden = json.requiredInt("hidden_size", family);
        int heads = json.requiredInt("num_attention_heads", family);
        Optional<JsonNode> ropeParameters = json.object("rope_parameters");
        double theta = json.doubleOr("rope_theta", 10000.0);
        if (ropeParameters.isPresent()) {
            theta = json.doubleOr(ropeParameters.get(), "rope_theta", theta);
        }
        double ropeTheta = theta;
        LlamaConfig config = build(json, () -> new LlamaConfig(
                json.requiredInt("vocab_size", family),
                hidden,
                json.requiredInt("intermediate_size", family),
                json.requiredInt("num_hidden_layers", family),
                heads,
                json.intOr("num_key_value_heads", heads),
                json.intOr("head_dim", heads > 0 ? hidden / heads : 0),
                json.doubleOr("rms_norm_eps", 1e-6),
                ropeTheta,
                json.booleanOr("tie_word_embeddings", false),
                json.booleanOr("attention_bias", false),
                json.booleanOr("mlp_bias", false),
                ropeScaling(json, json.object("rope_scaling").or(() -> ropeParameters)),
                json.doubleOr("attention_dropout", 0.0)));
        Map<String, NDArray> weights = weights(directory, manager, precision,
                key -> key.equals("lm_head.weight") && config.tieWordEmbeddings() ? Optional.empty() : Optional.of(key));
        return create(json, weights, () -> LlamaForCausalLM.create(config, weights, manager, tokenize));
    }

    private static RopeScaling ropeScaling(HuggingFaceConfig json, Optional<JsonNode> node) {
        if (node.isEmpty()) {
            return RopeScaling.none();
        }
        JsonNode scaling = node.get();
        String type = json.stringOr(scaling, "rope_type", json.stringOr(scaling, "type", "default"));
        switch (type) {
            case "default":
                return RopeScaling.none();
            case "linear":
                return build(json, () -> RopeScaling.linear(json.doubleOr(scaling, "factor", Double.NaN)));
            case "llama3":
                return build(json, () -> RopeScaling.llama3(json.doubleOr(scaling, "factor", Double.NaN), json.doubleOr(scaling, "low_freq_factor", Double.NaN),
                        json.doubleOr(scaling, "high_freq_factor", Double.NaN), (int) json.doubleOr(scaling, "original_max_position_embeddings", 0)));
            default:
                throw json.error(format("has rope_scaling type '%s', which Graft does not implement; it implements linear and llama3", type));
        }
    }

    private static BertModel loadBert(HuggingFaceConfig json, Path directory, NDManager manager, WeightPrecision precision, Function<String, long[]> tokenize) {
        String activation = json.stringOr("hidden_act", "gelu");
        if (!activation.equals("gelu")) {
            throw json.error(format("has hidden_act '%s'; Graft's BERT uses the exact gelu", activation));
        }
        String positions = json.stringOr("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw json.error(format("has position_embedding_type '%s'; Graft's BERT has absolute position embeddings", positions));
        }
        if (json.booleanOr("is_decoder", false) || json.booleanOr("add_cross_attention", false)) {
            throw json.error("describes a BERT decoder (is_decoder or add_cross_attention); Graft loads BERT encoders");
        }
        List<String> names = names(directory);
        boolean prefixed = names.stream().anyMatch(name -> name.startsWith("bert."));
        List<String> ignored = new ArrayList<>();
        Function<String, Optional<String>> rename = key -> {
            Optional<String> renamed = bertKey(key, prefixed);
            if (renamed.isEmpty()) {
                ignored.add(key);
            }
            return renamed;
        };
        boolean pooler = names.stream().map(key -> bertKey(key, prefixed)).anyMatch(key -> key.equals(Optional.of("pooler.dense.weight")));
        BertConfig config = build(json, () -> new BertConfig(
                json.requiredInt("vocab_size", "bert"),
                json.requiredInt("hidden_size", "bert"),
                json.requiredInt("num_hidden_layers", "bert"),
                json.requiredInt("num_attention_heads", "bert"),
                json.requiredInt("intermediate_size", "bert"),
                json.intOr("max_position_embeddings", 512),
                json.intOr("type_vocab_size", 2),
                json.doubleOr("layer_norm_eps", 1e-12),
                pooler,
                json.doubleOr("hidden_dropout_prob", BertConfig.DEFAULT_DROPOUT),
                json.doubleOr("attention_probs_dropout_prob", BertConfig.DEFAULT_DROPOUT)));
        Map<String, NDArray> weights = weights(directory, manager, precision, rename);
        if (!ignored.isEmpty()) {
            LOG.info("{}: ignoring {} weights that are not part of BertModel (heads): {}", directory, ignored.size(), ignored);
        }
        return create(json, weights, () -> BertModel.create(config, weights, manager, tokenize));
    }

    /** Hugging Face's key for {@code BertModel}: without the {@code bert.} prefix of models with heads, LayerNorm gamma/beta as weight/bias. */
    private static Optional<String> bertKey(String key, boolean prefixed) {
        String name = key;
        if (prefixed) {
            if (!name.startsWith("bert.")) {
                return Optional.empty();
            }
            name = name.substring("bert.".length());
        }
        if (name.endsWith("LayerNorm.gamma")) {
            name = name.substring(0, name.length() - "gamma".length()) + "weight";
        }
        else if (name.endsWith("LayerNorm.beta")) {
            name = name.substring(0, name.length() - "beta".length()) + "bias";
        }
        return Optional.of(name);
    }

    private static List<String> names(Path directory) {
        try (Checkpoint checkpoint = Checkpoints.open(directory)) {
            return checkpoint.names();
        }
        catch (SafetensorsException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
    }

    /**
     * The floating-point weights of the checkpoint in {@code directory}, keyed by {@code rename} (empty: left out),
     * in {@code precision}. Integer tensors (buffers such as {@code position_ids}) are left out.
     */
    private static Map<String, NDArray> weights(Path directory, NDManager manager, WeightPrecision precision, Function<String, Optional<String>> rename) {
        Map<String, NDArray> weights = new LinkedHashMap<>();
        try (Checkpoint checkpoint = Checkpoints.open(directory)) {
            for (String name : checkpoint.names()) {
                Optional<String> key = rename.apply(name);
                if (key.isEmpty() || !checkpoint.info(name).dtype().dataType().map(DataType::isFloating).orElse(false)) {
                    continue;
                }
                NDArray array = load(checkpoint, name, manager, precision);
                if (weights.put(key.get(), array) != null) {
                    throw new ModelLoadException(format("%s holds two weights for '%s' (one of them as '%s')", directory, key.get(), name));
                }
            }
        }
        catch (SafetensorsException e) {
            weights.values().forEach(NDArray::close);
            throw new ModelLoadException(e.getMessage(), e);
        }
        catch (RuntimeException e) {
            weights.values().forEach(NDArray::close);
            throw e;
        }
        return weights;
    }

    private static NDArray load(Checkpoint checkpoint, String name, NDManager manager, WeightPrecision precision) {
        return switch (precision) {
            case FLOAT32 -> checkpoint.load(name, manager, DataType.FLOAT32);
            case AS_STORED -> checkpoint.load(name, manager);
            case HALF -> checkpoint.load(name, manager, DataType.FLOAT16);
        };
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        }
        catch (IOException e) {
            throw new ModelLoadException(format("cannot read %s: %s", file, e.getMessage()), e);
        }
    }

    private static HuggingFaceTokenizer tokenizer(Path directory) {
        Path file = directory.resolve(TOKENIZER_FILE);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            // as Hugging Face's tokenizer(text): no truncation and no padding unless asked (and no DJL warning about maxLength)
            return HuggingFaceTokenizer.newInstance(file, Map.of("truncation", "false", "padding", "false"));
        }
        catch (IOException | RuntimeException e) {
            throw new ModelLoadException(format("cannot read %s: %s", file, e.getMessage()), e);
        }
    }

    private interface Builder<T> {
        T build();
    }

    /** Runs a config constructor, turning its validation error into one that names config.json. */
    private static <T> T build(HuggingFaceConfig json, Builder<T> builder) {
        try {
            return builder.build();
        }
        catch (IllegalArgumentException e) {
            throw json.error(format("describes an invalid model: %s", e.getMessage()));
        }
    }

    /**
     * Runs a model factory, turning its weight errors (which name the key) into load errors that name the directory;
     * on failure the weights, which the factory did not take, are freed.
     */
    private static <T> T create(HuggingFaceConfig json, Map<String, NDArray> weights, Builder<T> builder) {
        try {
            return builder.build();
        }
        catch (IllegalArgumentException e) {
            weights.values().forEach(NDArray::close);
            throw new ModelLoadException(format("cannot load the %s model in %s: %s", json.modelType(), json.file().getParent(), e.getMessage()), e);
        }
    }
}
