package dev.graft.runtime.compose;

import java.util.List;

/**
 * AdapterHub's {@code Stack} at sublayer sites: each adapter reads the output of the one before it,
 * {@code h₁ = h + c₁·Δ₁(x, h)}, {@code h₂ = h₁ + c₂·Δ₂(x, h₁)}, and so on, in block order. Only adapters whose
 * modules all sit at sublayer sites can be stacked: at a linear site two stacked weight transforms would not
 * commute ({@code ΔW₂} would read {@code W + ΔW₁}), and additive terms and scales read the layer's input, not a
 * previous adapter's output.
 *
 * @param adapterNames the adapters, in the order they are applied, each once
 */
public record Stack(List<String> adapterNames) implements CompositionBlock {
    public Stack {
        adapterNames = CompositionBlock.checkNames("stack", adapterNames);
    }

    /** The stack of {@code adapterNames}, applied in that order. */
    public static Stack of(List<String> adapterNames) {
        return new Stack(adapterNames);
    }

    @Override
    public String kind() {
        return "stack";
    }
}
