package dev.graft.runtime.data;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.OptionalLong;

/**
 * Encodes examples for causal language modelling. With a prompt and a completion, the sequence is the prompt (with
 * the tokenizer's special tokens), the completion and the end-of-sequence token, and the loss counts only the
 * completion and the end token. A plain text counts every token.
 */
public final class CausalLmEncoder implements ExampleEncoder {
    private static final long IGNORED = -100;

    private final TrainingTokenizer tokenizer;
    private final String textField;
    private final String promptField;
    private final String completionField;
    private final OptionalLong endOfSequence;

    public CausalLmEncoder(TrainingTokenizer tokenizer, String textField, String promptField, String completionField, OptionalLong endOfSequence) {
        this.tokenizer = requireNonNull(tokenizer, "tokenizer is null");
        this.textField = requireNonNull(textField, "textField is null");
        this.promptField = requireNonNull(promptField, "promptField is null");
        this.completionField = requireNonNull(completionField, "completionField is null");
        this.endOfSequence = requireNonNull(endOfSequence, "endOfSequence is null");
    }

    @Override
    public TokenizedExample encode(int index, Example example) {
        long[] ids;
        long[] targets;
        if (example.optional(promptField).isPresent()) {
            String completion = example.require(completionField, format("An example with '%s' needs its '%s' (data.completion_field).", promptField, completionField));
            long[] prompt = tokenizer.encode(example.optional(promptField).get()).ids();
            long[] answer = withEnd(tokenizer.encodeWithoutSpecialTokens(completion).ids());
            ids = concat(prompt, answer);
            targets = new long[ids.length];
            Arrays.fill(targets, 0, prompt.length, IGNORED);
            System.arraycopy(answer, 0, targets, prompt.length, answer.length);
        }
        else if (example.optional(textField).isPresent()) {
            ids = withEnd(tokenizer.encode(example.optional(textField).get()).ids());
            targets = ids.clone();
        }
        else {
            throw new DataException(format("%s: the line has neither '%s' nor '%s' and '%s' (it has %s); set data.text_field or data.prompt_field and data.completion_field",
                    example.source(), textField, promptField, completionField, example.fields().keySet()));
        }
        int length = Math.min(ids.length, tokenizer.maxLength());
        ids = Arrays.copyOf(ids, length);
        targets = Arrays.copyOf(targets, length);
        if (Arrays.stream(targets).skip(1).allMatch(target -> target == IGNORED)) {
            throw new DataException(format("%s: after truncation to data.max_length %d nothing of the completion is left to learn; raise data.max_length or shorten the prompt",
                    example.source(), tokenizer.maxLength()));
        }
        return new TokenizedExample(index, ids, new long[length], targets, -1);
    }

    private long[] withEnd(long[] ids) {
        return endOfSequence.isPresent() ? concat(ids, new long[] {endOfSequence.getAsLong()}) : ids;
    }

    private static long[] concat(long[] first, long[] second) {
        long[] joined = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, joined, first.length, second.length);
        return joined;
    }
}
