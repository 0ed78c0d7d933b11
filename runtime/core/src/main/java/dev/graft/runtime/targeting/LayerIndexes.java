package dev.graft.runtime.targeting;

import dev.graft.spi.PeftNames;

import java.util.List;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.lang.String.format;

/**
 * Finds the transformer layer index in a module name the way PEFT's {@code check_target_module_exists}
 * does, for {@code layers_to_transform}.
 *
 * <p>Without {@code layers_pattern}, the index is the first all-digit path segment that follows at least
 * two other segments ({@code re.match(r".*?\.[^.]*\.(\d+)\.", key)}); the lazy {@code .*?} makes
 * {@code model.layers.1.mlp.experts.0.up_proj} layer 1, not 0. With {@code layers_pattern}, each pattern
 * is tried in order as the segment before the index ({@code rf".*?\.{pattern}\.(\d+)\."}), the pattern
 * being a regular expression inserted as is. Either way the index must be followed by a dot and preceded
 * by at least one segment, so a name that starts with the layer list ({@code layers.0.q_proj}) has no
 * index.
 */
final class LayerIndexes {
    private static final Pattern ANY_LIST = PeftNames.compile(".*?\\.[^.]*\\.(\\d+)\\.");

    private LayerIndexes() {}

    /** Compiles the expression for one {@code layers_pattern} entry. */
    static Pattern compile(String layersPattern) {
        Pattern pattern = PythonRegex.compile(".*?\\." + layersPattern + "\\.(\\d+)\\.");
        if (pattern.matcher("").groupCount() != 1) {
            throw new TargetingException(format("layers_pattern '%s' has a capturing group, which would take the place of the layer index; use (?:...) instead",
                    layersPattern));
        }
        return pattern;
    }

    /** The layer index of {@code moduleName} under {@code layersPatterns} (compiled by {@link #compile}), if any. */
    static OptionalInt find(String moduleName, List<Pattern> layersPatterns) {
        if (layersPatterns.isEmpty()) {
            return index(ANY_LIST.matcher(moduleName));
        }
        for (Pattern pattern : layersPatterns) {
            OptionalInt index = index(pattern.matcher(moduleName));
            if (index.isPresent()) {
                return index;
            }
        }
        return OptionalInt.empty();
    }

    private static OptionalInt index(Matcher matcher) {
        if (!matcher.lookingAt()) {
            return OptionalInt.empty();
        }
        try {
            return OptionalInt.of(Integer.parseInt(matcher.group(1)));
        }
        catch (NumberFormatException e) {
            // more digits than an int holds: no layers_to_transform entry can equal it, which is what no index means too
            return OptionalInt.empty();
        }
    }
}
