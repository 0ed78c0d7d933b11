package dev.graft.it.peft;

import java.util.Arrays;

/**
 * PEFT's prompt tuning for an oracle that reads token ids: PEFT passes {@code inputs_embeds} = prompt ⊕ token
 * embeddings and n ones in front of the attention mask; the same embeddings reach the model when the n prompt rows are
 * appended to the embedding table (ids {@code vocabulary..vocabulary+n−1}) and those ids are put in front of every
 * sequence. Nothing else of the model changes, so the oracle needs no notion of a prompt.
 */
final class PromptAsTokens {
    private PromptAsTokens() {}

    /** {@code table} ({@code vocabulary} rows of {@code prompt[0].length}) with the prompt rows appended. */
    static double[] appendRows(double[] table, int vocabulary, double[][] prompt) {
        int width = prompt.length == 0 ? 0 : prompt[0].length;
        double[] extended = Arrays.copyOf(table, (vocabulary + prompt.length) * width);
        for (int token = 0; token < prompt.length; token++) {
            System.arraycopy(prompt[token], 0, extended, (vocabulary + token) * width, width);
        }
        return extended;
    }

    /** {@code ids} with the prompt's ids {@code vocabulary..vocabulary+virtual−1} in front of every sequence. */
    static long[][] prependIds(long[][] ids, int vocabulary, int virtual) {
        long[][] prompted = new long[ids.length][];
        for (int example = 0; example < ids.length; example++) {
            prompted[example] = new long[virtual + ids[example].length];
            for (int token = 0; token < virtual; token++) {
                prompted[example][token] = vocabulary + token;
            }
            System.arraycopy(ids[example], 0, prompted[example], virtual, ids[example].length);
        }
        return prompted;
    }

    /** {@code mask} with {@code virtual} ones in front of every sequence. */
    static int[][] prependOnes(int[][] mask, int virtual) {
        int[][] prompted = new int[mask.length][];
        for (int example = 0; example < mask.length; example++) {
            prompted[example] = new int[virtual + mask[example].length];
            Arrays.fill(prompted[example], 0, virtual, 1);
            System.arraycopy(mask[example], 0, prompted[example], virtual, mask[example].length);
        }
        return prompted;
    }
}
