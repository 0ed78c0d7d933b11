package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that adds a term to a linear site's output: {@code y = x·Wᵀ + b + scaling()·delta(x)}.
 * Under gated composition the runtime's gate replaces {@link #scaling()} (UniPELT: the gate takes the place
 * of LoRA's α/r); see the {@linkplain dev.graft.spi package documentation} for the gate rule of every module type.
 */
public interface AdditiveLinearModule extends MethodModule {
    /**
     * The unscaled additive term for input {@code x} of shape {@code (..., in)}; returns {@code (..., out)}.
     * Temporaries should live in a sub-manager; only the result is returned.
     *
     * @param parameterStore where to read parameter values ({@code getValue(parameter, device, training)})
     * @param x the site's input
     * @param training whether dropout and the like are on
     */
    NDArray delta(ParameterStore parameterStore, NDArray x, boolean training);

    /** The factor applied to {@link #delta} in plain (ungated) composition, e.g. {@code α/r}. */
    float scaling();

    /**
     * {@code factor · delta(x)}: the term the runtime adds in plain composition ({@code factor} is {@link #scaling()},
     * times the adapter's weight under an average block). The default scales {@link #delta}'s {@code (..., out)}
     * result (and returns it as it is for a factor of 1); a module may apply the factor where it costs less (a low-rank module scales its rank-{@code r} hidden
     * state), as long as the values are those of the default up to float rounding.
     *
     * @param factor the constant the term is multiplied by
     */
    default NDArray scaledDelta(ParameterStore parameterStore, NDArray x, boolean training, float factor) {
        NDArray delta = delta(parameterStore, x, training);
        return factor == 1f ? delta : Scalars.times(delta, factor);
    }

    /**
     * {@code output + factor · delta(x)}: {@link #scaledDelta} added to the layer's output, which the runtime calls
     * in plain composition when nothing else (a row mask, a type cast) stands between the term and the output. The
     * default adds {@link #scaledDelta}; a module may fuse the addition into its last product (a low-rank module
     * accumulates {@code B·h} into {@code output} in one matrix call, without a separate {@code (..., out)} term), as
     * long as the values are those of the default up to float rounding. It must not modify {@code output} in place.
     *
     * @param output the layer's output so far, shape {@code (..., out)}, float32
     * @since SPI 2.2
     */
    default NDArray addScaledDelta(ParameterStore parameterStore, NDArray x, boolean training, float factor, NDArray output) {
        return output.add(scaledDelta(parameterStore, x, training, factor));
    }

    /**
     * {@code delta(x) ⊙ gate}: the term the runtime adds under gated composition, before an average block's weight.
     * The default multiplies {@link #delta}'s {@code (..., out)} result; a module may apply the gate where it costs
     * less (a low-rank module gates its rank-{@code r} hidden state), as long as the values, and the gradients
     * reaching the gate, are those of the default up to float rounding.
     *
     * @param gate one value per example, shape {@code (batch, 1, ..., 1)} with as many axes as {@code x}, float32
     */
    default NDArray gatedDelta(ParameterStore parameterStore, NDArray x, boolean training, NDArray gate) {
        return delta(parameterStore, x, training).mul(gate);
    }
}
