package dev.graft.runtime.loader;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.io.AtomicFiles;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaWeights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A small Llama with seeded random weights, written in Hugging Face's layout ({@code config.json},
 * {@code model.safetensors}, a byte-level BPE {@code tokenizer.json}, {@code tokenizer_config.json},
 * {@code generation_config.json}), so that the Llama path can be tried and tested without a download. It is untrained:
 * for trying Graft, not for real use. Hugging Face transformers loads the folder too.
 */
public final class TinyLlama {
    /** {@code <unk>}, {@code <s>}, {@code </s>}, then one token per byte. */
    public static final int VOCABULARY_SIZE = 3 + 256;
    /** The id of {@code <s>}. */
    public static final int BEGIN_OF_SEQUENCE_ID = 1;
    /** The id of {@code </s>}. */
    public static final int END_OF_SEQUENCE_ID = 2;
    private static final List<String> SPECIAL_TOKENS = List.of("<unk>", "<s>", "</s>");
    private static final int MAX_POSITIONS = 2048;
    private static final ObjectMapper JSON = new ObjectMapper();

    private TinyLlama() {}

    /**
     * The shape of a tiny Llama over this tokenizer's 259 tokens: head_dim = hidden / heads, rms_norm_eps 1e-6,
     * rope_theta 10000, untied embeddings, no biases.
     *
     * @throws IllegalArgumentException when heads do not divide hidden, or key/value heads do not divide heads
     */
    public static LlamaConfig config(int layers, int hidden, int intermediate, int heads, int keyValueHeads) {
        if (heads <= 0 || hidden <= 0 || hidden % heads != 0) {
            throw new IllegalArgumentException(format("--heads (%d) must divide --hidden (%d)", heads, hidden));
        }
        if (keyValueHeads <= 0 || heads % keyValueHeads != 0) {
            throw new IllegalArgumentException(format("--kv-heads (%d) must divide --heads (%d)", keyValueHeads, heads));
        }
        return new LlamaConfig(VOCABULARY_SIZE, hidden, intermediate, layers, heads, keyValueHeads, hidden / heads, 1e-6, 10000.0, false, false, false);
    }

    /** The number of weights a Llama of {@code config} has. */
    public static long parameterCount(LlamaConfig config) {
        return LlamaWeights.shapes(config).values().stream().mapToLong(shape -> shape.size()).sum();
    }

    /**
     * Writes the model to {@code directory}, created if absent; the same seed writes the same bytes.
     *
     * @throws IllegalArgumentException when {@code directory} exists and is not empty
     */
    public static void write(Path directory, LlamaConfig config, long seed) {
        requireNonNull(directory, "directory is null");
        requireNonNull(config, "config is null");
        if (config.vocabularySize() != VOCABULARY_SIZE) {
            throw new IllegalArgumentException(format("a tiny Llama has the tokenizer's %d tokens, not %d", VOCABULARY_SIZE, config.vocabularySize()));
        }
        requireEmpty(directory);
        try (NDManager manager = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> weights = new LinkedHashMap<>(LlamaWeights.random(config, manager, seed));
            AtomicFiles.write(directory.resolve("config.json"), pretty(configJson(config)));
            SafetensorsWriter.write(directory.resolve("model.safetensors"), weights, Map.of("format", "pt"));
            AtomicFiles.write(directory.resolve("tokenizer.json"), pretty(tokenizerJson()));
            AtomicFiles.write(directory.resolve("tokenizer_config.json"), pretty(tokenizerConfigJson()));
            AtomicFiles.write(directory.resolve("generation_config.json"), pretty(JSON.createObjectNode()
                    .put("bos_token_id", BEGIN_OF_SEQUENCE_ID).put("eos_token_id", END_OF_SEQUENCE_ID).put("_from_model_config", true)));
        }
    }

    private static void requireEmpty(Path directory) {
        if (!Files.exists(directory)) {
            return;
        }
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException(format("%s exists and is not a folder; choose a new folder", directory));
        }
        try (Stream<Path> entries = Files.list(directory)) {
            if (entries.findAny().isPresent()) {
                throw new IllegalArgumentException(format("%s exists and is not empty; choose a new folder", directory));
            }
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot read %s: %s", directory, e.getMessage()), e);
        }
    }

    private static ObjectNode configJson(LlamaConfig config) {
        ObjectNode json = JSON.createObjectNode();
        json.putArray("architectures").add("LlamaForCausalLM");
        json.put("model_type", "llama")
                .put("vocab_size", config.vocabularySize())
                .put("hidden_size", config.hiddenSize())
                .put("intermediate_size", config.intermediateSize())
                .put("num_hidden_layers", config.numLayers())
                .put("num_attention_heads", config.numAttentionHeads())
                .put("num_key_value_heads", config.numKeyValueHeads())
                .put("head_dim", config.headDim())
                .put("hidden_act", "silu")
                .put("max_position_embeddings", MAX_POSITIONS)
                .put("rms_norm_eps", config.rmsNormEps())
                .put("rope_theta", config.ropeTheta())
                .put("attention_bias", false)
                .put("mlp_bias", false)
                .put("tie_word_embeddings", false)
                .put("bos_token_id", BEGIN_OF_SEQUENCE_ID)
                .put("eos_token_id", END_OF_SEQUENCE_ID)
                .put("torch_dtype", "float32")
                .put("initializer_range", 0.02);
        return json;
    }

    private static ObjectNode tokenizerConfigJson() {
        return JSON.createObjectNode()
                .put("tokenizer_class", "PreTrainedTokenizerFast")
                .put("bos_token", "<s>")
                .put("eos_token", "</s>")
                .put("unk_token", "<unk>")
                .put("model_max_length", MAX_POSITIONS)
                .put("clean_up_tokenization_spaces", false);
    }

    /** A Hugging Face tokenizers file: byte-level BPE as GPT-2's, without merges, and {@code <s>} before each sequence. */
    static ObjectNode tokenizerJson() {
        ObjectNode json = JSON.createObjectNode();
        json.put("version", "1.0");
        json.putNull("truncation");
        json.putNull("padding");
        ArrayNode added = json.putArray("added_tokens");
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            added.addObject().put("id", id).put("content", SPECIAL_TOKENS.get(id)).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        json.putNull("normalizer");
        json.set("pre_tokenizer", byteLevel());
        ObjectNode post = json.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode begin = post.putObject("special_tokens").putObject("<s>");
        begin.put("id", "<s>");
        begin.putArray("ids").add(BEGIN_OF_SEQUENCE_ID);
        begin.putArray("tokens").add("<s>");
        json.set("decoder", byteLevel());
        ObjectNode model = json.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token").putNull("continuing_subword_prefix").putNull("end_of_word_suffix");
        model.put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        ObjectNode vocabulary = model.putObject("vocab");
        for (int id = 0; id < SPECIAL_TOKENS.size(); id++) {
            vocabulary.put(SPECIAL_TOKENS.get(id), id);
        }
        List<String> symbols = byteSymbols();
        for (int value = 0; value < symbols.size(); value++) {
            vocabulary.put(symbols.get(value), SPECIAL_TOKENS.size() + value);
        }
        model.putArray("merges");
        return json;
    }

    private static ObjectNode byteLevel() {
        return JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
    }

    /** GPT-2's {@code bytes_to_unicode}: the printable character standing for each byte value 0..255. */
    static List<String> byteSymbols() {
        List<Integer> kept = new ArrayList<>();
        for (int value = '!'; value <= '~'; value++) {
            kept.add(value);
        }
        for (int value = 0xA1; value <= 0xAC; value++) {
            kept.add(value);
        }
        for (int value = 0xAE; value <= 0xFF; value++) {
            kept.add(value);
        }
        String[] symbols = new String[256];
        for (int value : kept) {
            symbols[value] = new String(Character.toChars(value));
        }
        int shifted = 0;
        for (int value = 0; value < 256; value++) {
            if (symbols[value] == null) {
                symbols[value] = new String(Character.toChars(256 + shifted++));
            }
        }
        return List.of(symbols);
    }

    private static String pretty(ObjectNode json) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n";
        }
        catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
