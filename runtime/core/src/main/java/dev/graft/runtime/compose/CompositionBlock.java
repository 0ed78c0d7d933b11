package dev.graft.runtime.compose;

import static java.lang.String.format;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A composition block over named adapters of any methods, as AdapterHub's: {@link Average} (a weighted average of
 * the adapters' contributions at run time), {@link Stack} (at sublayer sites, each adapter reads the previous one's
 * output), {@link Parallel} (each adapter on its own copy of the batch) and {@link Fuse} (AdapterFusion: a learned
 * attention over sublayer adapters' outputs). Set one with
 * {@code PeftModel.setActiveBlock}, which checks it against the model before any tensor is made.
 */
public sealed interface CompositionBlock permits Average, Stack, Parallel, Fuse {
    /** The adapters the block combines, in block order. */
    List<String> adapterNames();

    /** The block's name as AdapterHub spells it in lower case: {@code average}, {@code stack}, {@code parallel}, {@code fuse}. */
    String kind();

    /**
     * Checks a block's adapter names: at least one, none blank, none twice.
     *
     * @throws IllegalArgumentException naming the problem
     */
    static List<String> checkNames(String kind, List<String> adapterNames) {
        if (adapterNames == null || adapterNames.isEmpty()) {
            throw new IllegalArgumentException(format("a %s block needs at least one adapter name; none given", kind));
        }
        Set<String> seen = new HashSet<>();
        for (String name : adapterNames) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException(format("a %s block names a null or blank adapter: %s", kind, adapterNames));
            }
            if (!seen.add(name)) {
                throw new IllegalArgumentException(format("a %s block names adapter '%s' twice (%s): each adapter takes part once", kind, name, adapterNames));
            }
        }
        return List.copyOf(adapterNames);
    }
}
