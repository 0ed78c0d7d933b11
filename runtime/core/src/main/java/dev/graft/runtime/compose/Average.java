package dev.graft.runtime.compose;

import static java.lang.String.format;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * AdapterHub's {@code Average}: the adapters' contributions averaged with fixed weights at run time, each kind by
 * its own rule: additive terms, sublayer deltas and weight transforms' {@code ΔW} are weighted-summed
 * ({@code Σ wᵢ·cᵢ}); the scales {@code lᵢ} of one side (input or output) become {@code 1 + Σ wᵢ(lᵢ − 1)}. With
 * weights that sum to 1, adapters of one kind at a site give exactly the weighted average of their outputs. The weights are used as given (not normalised); {@link #of(List)} gives equal weights
 * {@code 1/n}. Prefix and prompt adapters are refused: their virtual tokens are not a term that averages.
 *
 * @param adapterNames the adapters, each once
 * @param weights one finite weight per adapter
 */
public record Average(List<String> adapterNames, List<Double> weights) implements CompositionBlock {
    public Average {
        adapterNames = CompositionBlock.checkNames("average", adapterNames);
        if (weights == null) {
            throw new IllegalArgumentException("an average block needs weights; use Average.of(names) for equal weights");
        }
        if (weights.size() != adapterNames.size()) {
            throw new IllegalArgumentException(format("an average block needs one weight per adapter: %d adapters %s, %d weights %s",
                    adapterNames.size(), adapterNames, weights.size(), weights));
        }
        for (int index = 0; index < weights.size(); index++) {
            Double weight = weights.get(index);
            if (weight == null || !Double.isFinite(weight)) {
                throw new IllegalArgumentException(format("the weight of adapter '%s' in an average block must be a finite number, found %s", adapterNames.get(index), weight));
            }
        }
        weights = List.copyOf(weights);
    }

    /** The weighted average of {@code adapterNames} with {@code weights}, one per adapter. */
    public static Average of(List<String> adapterNames, List<Double> weights) {
        return new Average(adapterNames, weights);
    }

    /** The plain average of {@code adapterNames}: each weight {@code 1/n}. */
    public static Average of(List<String> adapterNames) {
        int count = adapterNames == null ? 0 : adapterNames.size();
        List<Double> weights = new ArrayList<>(Collections.nCopies(count, count == 0 ? 0.0 : 1.0 / count));
        return new Average(adapterNames, weights);
    }

    /** The weight of {@code adapterName}. */
    public double weightOf(String adapterName) {
        int index = adapterNames.indexOf(adapterName);
        if (index < 0) {
            throw new IllegalArgumentException(format("adapter '%s' is not in this average block %s", adapterName, adapterNames));
        }
        return weights.get(index);
    }

    @Override
    public String kind() {
        return "average";
    }
}
