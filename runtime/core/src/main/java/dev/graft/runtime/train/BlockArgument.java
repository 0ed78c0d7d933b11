package dev.graft.runtime.train;

import static java.lang.String.format;

import dev.graft.runtime.compose.Average;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Stack;
import dev.graft.runtime.recipe.NearestName;
import dev.graft.runtime.store.FusionStore;
import dev.graft.runtime.store.StoreException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code --block} argument of {@code graft predict} and {@code graft evaluate}: a composition block over the
 * adapters of a multi-adapter folder, read and checked before any tensor is made.
 * <pre>
 * average:a,b            the adapters' terms averaged, weights 1/n
 * average:a,b:0.7,0.3    ... with these weights, one per adapter
 * stack:a,b              a's output feeds b
 * fuse:NAME              the AdapterFusion saved in fusion/NAME (its adapters as its config lists them)
 * </pre>
 */
public final class BlockArgument {
    /** The block kinds {@code --block} accepts. */
    public static final List<String> KINDS = List.of("average", "stack", "fuse");

    private BlockArgument() {}

    /**
     * The block {@code text} names, over the adapters {@code adapterNames} of {@code adaptersFolder}.
     *
     * @throws IllegalArgumentException in one line that says what is wrong and what to write instead
     */
    public static CompositionBlock parse(String text, Path adaptersFolder, List<String> adapterNames) {
        String[] parts = text.split(":", -1);
        String kind = parts[0];
        if (kind.equals("parallel")) {
            throw new IllegalArgumentException(format("--block %s: a parallel block returns one output per adapter for each input, which predict and evaluate "
                    + "do not report; use average:%s or stack:%s, or one --adapter per adapter", text, rest(parts), rest(parts)));
        }
        if (!KINDS.contains(kind) || parts.length < 2 || parts[1].isBlank()) {
            throw new IllegalArgumentException(format("--block '%s' is not a block; write average:a,b[:0.7,0.3], stack:a,b or fuse:NAME (adapters here: %s)",
                    text, adapterNames));
        }
        try {
            if (kind.equals("fuse")) {
                if (parts.length > 2) {
                    throw new IllegalArgumentException(format("--block %s: a fuse block names one fusion (fuse:NAME), whose config lists its adapters", text));
                }
                CompositionBlock fuse = FusionStore.block(FusionStore.fusionFolder(adaptersFolder, parts[1]));
                checkAdapters(text, fuse.adapterNames(), adapterNames);
                return fuse;
            }
            List<String> names = Arrays.stream(parts[1].split(",", -1)).map(String::strip).toList();
            checkAdapters(text, names, adapterNames);
            if (kind.equals("stack")) {
                if (parts.length > 2) {
                    throw new IllegalArgumentException(format("--block %s: weights are for an average block only; write stack:%s", text, parts[1]));
                }
                return Stack.of(names);
            }
            if (parts.length > 3) {
                throw new IllegalArgumentException(format("--block %s: write average:a,b or average:a,b:0.7,0.3 (one weight per adapter)", text));
            }
            return parts.length == 2 ? Average.of(names) : Average.of(names, weights(text, parts[2]));
        }
        catch (StoreException e) {
            throw new IllegalArgumentException(format("--block %s: %s", text, e.getMessage()), e);
        }
        catch (IllegalArgumentException e) {
            throw e.getMessage() != null && e.getMessage().startsWith("--block") ? e : new IllegalArgumentException(format("--block %s: %s", text, e.getMessage()), e);
        }
    }

    private static String rest(String[] parts) {
        return parts.length > 1 ? parts[1] : "a,b";
    }

    private static void checkAdapters(String text, List<String> names, List<String> adapterNames) {
        for (String name : names) {
            if (!adapterNames.contains(name)) {
                throw new IllegalArgumentException(format("--block %s names adapter '%s', which is not among the adapters here %s%s", text, name, adapterNames,
                        NearestName.of(name, adapterNames).map(nearest -> format("; did you mean '%s'?", nearest)).orElse("")));
            }
        }
    }

    private static List<Double> weights(String text, String weights) {
        List<Double> values = new ArrayList<>();
        for (String weight : weights.split(",", -1)) {
            try {
                values.add(Double.parseDouble(weight.strip()));
            }
            catch (NumberFormatException e) {
                throw new IllegalArgumentException(format("--block %s: weight '%s' is not a number; write average:a,b:0.7,0.3", text, weight), e);
            }
        }
        return values;
    }
}
