package dev.graft.plugin.adapter;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

import java.util.List;

/** The activation between a bottleneck adapter's down- and up-projection, by AdapterHub's {@code non_linearity} names. */
public enum NonLinearity {
    /** {@code max(0, x)}. */
    RELU("relu"),
    /** {@code x·σ(x)} (SiLU), AdapterHub's and Hugging Face's {@code swish}; {@code silu} is accepted as an alias. */
    SWISH("swish"),
    /** The exact (erf) GELU, {@code x·Φ(x)}, as Hugging Face's {@code gelu}. */
    GELU("gelu"),
    /** {@code tanh(x)}. */
    TANH("tanh");

    /** The accepted option values, canonical names first, then aliases. */
    static final List<Object> OPTION_VALUES = List.of("relu", "swish", "gelu", "tanh", "silu");

    private final String optionValue;

    NonLinearity(String optionValue) {
        this.optionValue = optionValue;
    }

    /** The canonical {@code non_linearity} value. */
    public String optionValue() {
        return optionValue;
    }

    /** Applies the activation; the result lives in {@code x}'s manager. */
    public NDArray apply(NDArray x) {
        requireNonNull(x, "x is null");
        switch (this) {
            case RELU:
                return Activation.relu(x);
            case SWISH:
                return Activation.swish(x, 1f);
            case GELU:
                return Activation.gelu(x);
            case TANH:
                return Activation.tanh(x);
        }
        throw new AssertionError(this);
    }

    /**
     * The activation named by a validated {@code non_linearity} value.
     *
     * @throws IllegalArgumentException for a name that is not one of {@link #OPTION_VALUES}
     */
    static NonLinearity fromOption(String value) {
        requireNonNull(value, "value is null");
        if (value.equals("silu")) {
            return SWISH;
        }
        for (NonLinearity nonLinearity : values()) {
            if (nonLinearity.optionValue.equals(value)) {
                return nonLinearity;
            }
        }
        throw new IllegalArgumentException(String.format("non_linearity must be one of %s, but is \"%s\"", OPTION_VALUES, value));
    }
}
