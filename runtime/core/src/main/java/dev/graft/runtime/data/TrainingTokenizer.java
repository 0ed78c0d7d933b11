package dev.graft.runtime.data;

import static java.lang.String.format;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The model's {@code tokenizer.json} set up for training data: special tokens added, truncation to
 * {@link #maxLength()} (the tokenizer keeps its special tokens, e.g. BERT's final {@code [SEP]}), no padding (batches
 * are padded to their longest example).
 */
public final class TrainingTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final long padTokenId;

    private TrainingTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long padTokenId) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.padTokenId = padTokenId;
    }

    /** A tokenizer from the bytes of a {@code tokenizer.json}, truncating to {@code maxLength} tokens. */
    public static TrainingTokenizer create(byte[] tokenizerJson, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException(format("data.max_length must be at least 2, found %d", maxLength));
        }
        Map<String, String> options = Map.of("maxLength", Integer.toString(maxLength), "truncation", "true", "padding", "false", "addSpecialTokens", "true");
        try {
            HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson), options);
            return new TrainingTokenizer(tokenizer, maxLength, padTokenId(tokenizerJson, tokenizer));
        }
        catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long padTokenId(byte[] tokenizerJson, HuggingFaceTokenizer tokenizer) {
        try {
            JsonNode root = new ObjectMapper().readTree(tokenizerJson);
            JsonNode padding = root.path("padding");
            if (padding.has("pad_id")) {
                return padding.get("pad_id").asLong();
            }
            JsonNode vocabulary = root.path("model").path("vocab");
            for (String name : new String[] {"[PAD]", "<pad>"}) {
                if (vocabulary.has(name)) {
                    return vocabulary.get(name).asLong();
                }
            }
            for (JsonNode added : root.path("added_tokens")) {
                if ("[PAD]".equals(added.path("content").asText()) || "<pad>".equals(added.path("content").asText())) {
                    return added.path("id").asLong();
                }
            }
            return 0;
        }
        catch (IOException e) {
            throw new IllegalArgumentException(format("tokenizer.json is not valid JSON: %s", e.getMessage()), e);
        }
    }

    public int maxLength() {
        return maxLength;
    }

    /** Token ids and type ids with special tokens, truncated to {@link #maxLength()}. */
    public Encoded encode(String text) {
        Encoding encoding = tokenizer.encode(text);
        return new Encoded(encoding.getIds(), encoding.getTypeIds());
    }

    /**
     * Token ids without special tokens (a completion, appended to its prompt), also at most {@link #maxLength()}
     * long: what follows would be cut from the combined sequence anyway.
     */
    public Encoded encodeWithoutSpecialTokens(String text) {
        Encoding encoding = tokenizer.encode(text, false, false);
        return new Encoded(encoding.getIds(), encoding.getTypeIds());
    }

    /** The id that pads batches: the tokenizer's padding id, else {@code [PAD]} or {@code <pad>}, else 0. */
    public long padTokenId() {
        return padTokenId;
    }

    /** The text of {@code ids}, special tokens left out. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /**
     * An encoded text.
     *
     * @param ids the token ids
     * @param typeIds the token type ids
     */
    public record Encoded(long[] ids, long[] typeIds) {
        public Encoded {
            ids = ids.clone();
            typeIds = typeIds.clone();
        }
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
