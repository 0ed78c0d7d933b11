package dev.graft.runtime.recipe;

import static java.lang.String.format;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.graft.runtime.compose.Average;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.Parallel;
import dev.graft.runtime.compose.Stack;

import java.util.List;

/**
 * A recipe's top-level {@code composition}: a composition block over the recipe's adapters.
 * <pre>
 * composition: {block: average, adapters: [a, b], weights: [0.7, 0.3]}   # weights: average only, default 1/n
 * composition: {block: stack, adapters: [a, b]}
 * composition: {block: fuse, adapters: [a, b, c], name: abc}             # AdapterFusion; name defaults to a_b_c
 * </pre>
 * {@code parallel} is accepted by {@link #toBlock} but refused for training (it is inference only).
 *
 * @param block {@code average}, {@code stack}, {@code parallel} or {@code fuse}
 * @param adapters the block's adapters, names of the recipe's adapters
 * @param weights an average's weights, one per adapter
 * @param name a fusion's name
 */
public record RecipeComposition(
        @JsonProperty(value = "block", required = true) String block,
        @JsonProperty(value = "adapters", required = true) List<String> adapters,
        @JsonProperty("weights") @JsonInclude(JsonInclude.Include.NON_NULL) List<Double> weights,
        @JsonProperty("name") @JsonInclude(JsonInclude.Include.NON_NULL) String name) {
    /** The block names a recipe accepts. */
    public static final List<String> BLOCKS = List.of("average", "stack", "parallel", "fuse");

    public RecipeComposition {
        adapters = adapters == null ? List.of() : List.copyOf(adapters);
        weights = weights == null ? null : List.copyOf(weights);
    }

    /**
     * The block, checked against the recipe's adapter names before any tensor is made.
     *
     * @throws RecipeException in one line: an unknown block, an adapter the recipe does not define, weights outside
     *         an average, a name outside a fuse, or what the block itself refuses
     */
    public CompositionBlock toBlock(List<String> recipeAdapters) {
        if (block == null || !BLOCKS.contains(block)) {
            throw new RecipeException(format("composition: unknown block '%s'; blocks: %s", block, BLOCKS));
        }
        for (String adapter : adapters) {
            if (!recipeAdapters.contains(adapter)) {
                throw new RecipeException(format("composition: the %s block names adapter '%s', which the recipe's adapters %s do not define%s",
                        block, adapter, recipeAdapters, NearestName.suggestion(adapter, recipeAdapters)));
            }
        }
        if (weights != null && !block.equals("average")) {
            throw new RecipeException(format("composition: weights are for an average block only; a %s block takes none (remove weights)", block));
        }
        if (name != null && !block.equals("fuse")) {
            throw new RecipeException(format("composition: name is for a fuse block only (the fusion's name); a %s block takes none (remove name)", block));
        }
        try {
            return switch (block) {
                case "average" -> weights == null ? Average.of(adapters) : Average.of(adapters, weights);
                case "stack" -> Stack.of(adapters);
                case "parallel" -> Parallel.of(adapters);
                default -> name == null ? Fuse.of(adapters) : Fuse.of(name, adapters);
            };
        }
        catch (IllegalArgumentException e) {
            throw new RecipeException(format("composition: %s", e.getMessage()), e);
        }
    }
}
