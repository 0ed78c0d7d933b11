package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.regex.Pattern;

/**
 * AdapterHub's {@code Fuse} (AdapterFusion, Pfeiffer et al. 2021): at each sublayer site a learned attention of the
 * sublayer output {@code h} (the query) over the fused adapters' outputs {@code dᵢ} (keys and values), softmax over
 * the adapters: {@code h + Σ pᵢ·V·dᵢ} with {@code pᵢ = softmax((Q·h + b_Q)·(K·dᵢ + b_K))}. The fusion parameters
 * ({@link FusionLayer}: query, key, value per site) belong to the runtime and are created once per fusion name with
 * {@code PeftModel.addFusion}; the fused adapters stay frozen. Only adapters whose modules all sit at sublayer sites
 * (bottleneck adapters) can be fused.
 *
 * @param name the fusion's name: its parameters and its folder {@code fusion/<name>} are saved under it
 * @param adapterNames the fused adapters, each once
 */
public record Fuse(String name, List<String> adapterNames) implements CompositionBlock {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");

    public Fuse {
        requireNonNull(name, "name is null");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(format("fusion name '%s' is invalid: use letters, digits, '_' and '-', starting with a letter or digit", name));
        }
        adapterNames = CompositionBlock.checkNames("fuse", adapterNames);
    }

    /** The fusion of {@code adapterNames}, named after them joined with {@code _} (AdapterHub joins them with a comma). */
    public static Fuse of(List<String> adapterNames) {
        List<String> names = CompositionBlock.checkNames("fuse", adapterNames);
        return new Fuse(String.join("_", names), names);
    }

    /** The fusion {@code name} of {@code adapterNames}. */
    public static Fuse of(String name, List<String> adapterNames) {
        return new Fuse(name, adapterNames);
    }

    @Override
    public String kind() {
        return "fuse";
    }
}
