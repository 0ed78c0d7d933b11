package dev.graft.runtime.recipe;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The {@code output:} section of a recipe: where the run is written.
 * <pre>
 * output:
 *   dir: runs/spam        # default null: runs/&lt;recipe file name without extension&gt; in the working directory;
 *                         # a dir given here is resolved against the recipe's folder
 *   overwrite: false      # default false: refuse a folder that holds an earlier run
 * </pre>
 *
 * @param dir the run folder, or null for the default
 * @param overwrite whether an earlier run in the folder may be replaced
 */
public record OutputSection(@JsonProperty("dir") String dir, @JsonProperty("overwrite") boolean overwrite) {
    /** Every field at its default. */
    public static OutputSection defaults() {
        return new OutputSection(null, false);
    }
}
