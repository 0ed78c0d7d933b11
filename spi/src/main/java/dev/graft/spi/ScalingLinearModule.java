package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;

/**
 * A module that scales a linear site's input (by a vector of width {@code in}) or output (width {@code out}),
 * like IA³. Under gated composition the runtime applies {@code 1 + g·(l − 1)} instead of {@code l}
 * (the gate rule for every module type is in the {@linkplain dev.graft.spi package documentation}).
 */
public interface ScalingLinearModule extends MethodModule {
    /** Which side of the linear layer is scaled. */
    enum Side {
        /** {@code y = (x ⊙ l)·Wᵀ + b}; {@code l} has width {@code in}. */
        INPUT,
        /** {@code y = (x·Wᵀ + b) ⊙ l}; {@code l} has width {@code out}. */
        OUTPUT
    }

    /** The side this module scales. */
    Side side();

    /**
     * The scale vector, shape {@code (in)} for {@link Side#INPUT} or {@code (out)} for {@link Side#OUTPUT}.
     *
     * @param parameterStore where to read parameter values
     * @param x the site's input, for its device and manager
     * @param training whether training is on
     */
    NDArray scale(ParameterStore parameterStore, NDArray x, boolean training);
}
