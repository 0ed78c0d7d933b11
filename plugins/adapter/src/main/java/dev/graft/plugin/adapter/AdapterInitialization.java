package dev.graft.plugin.adapter;

import static java.util.Objects.requireNonNull;

import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.TruncatedNormalInitializer;
import ai.djl.training.initializer.UniformInitializer;

import java.util.List;

/**
 * How a bottleneck adapter's projections start, by AdapterHub's {@code init_weights} names
 * ({@code methods/modeling.py}, class {@code Adapter}). Every bias starts at zero.
 */
public enum AdapterInitialization {
    /**
     * {@code mam_adapter}: down-projection Kaiming-uniform with {@code a = √5}, i.e. {@code U(−1/√h, 1/√h)};
     * up-projection zero, so the adapter starts as an exact no-op. Graft's default for every preset.
     */
    MAM_ADAPTER("mam_adapter"),
    /**
     * {@code bert}: both projections {@code N(0, 0.02²)}. AdapterHub's default for its sequential presets; the
     * up-projection is not zero, so the adapter starts as a small perturbation, not a no-op.
     */
    BERT("bert"),
    /**
     * {@code houlsby}: both projections from a normal of standard deviation 0.01 truncated to {@code [−0.02, 0.02]};
     * near, but not exactly, a no-op.
     */
    HOULSBY("houlsby");

    /** The accepted option values. */
    static final List<Object> OPTION_VALUES = List.of("mam_adapter", "bert", "houlsby");

    private final String optionValue;

    AdapterInitialization(String optionValue) {
        this.optionValue = optionValue;
    }

    /** The {@code init_weights} value. */
    public String optionValue() {
        return optionValue;
    }

    /** Whether an adapter so initialised leaves the sublayer output unchanged. */
    public boolean isIdentity() {
        return this == MAM_ADAPTER;
    }

    /** The initializer of the down-projection weight {@code (bottleneck, hidden)}. */
    Initializer downWeight(int hidden) {
        switch (this) {
            case MAM_ADAPTER:
                return new UniformInitializer((float) (1 / Math.sqrt(hidden)));
            case BERT:
                return new NormalInitializer(0.02f);
            case HOULSBY:
                return new TruncatedNormalInitializer(0.01f);
        }
        throw new AssertionError(this);
    }

    /** The initializer of the up-projection weight {@code (hidden, bottleneck)}. */
    Initializer upWeight() {
        switch (this) {
            case MAM_ADAPTER:
                return new ConstantInitializer(0);
            case BERT:
                return new NormalInitializer(0.02f);
            case HOULSBY:
                return new TruncatedNormalInitializer(0.01f);
        }
        throw new AssertionError(this);
    }

    /** The initializer of both biases. */
    Initializer bias() {
        return new ConstantInitializer(0);
    }

    /**
     * The initialization named by a validated {@code init_weights} value.
     *
     * @throws IllegalArgumentException for a name that is not one of {@link #OPTION_VALUES}
     */
    static AdapterInitialization fromOption(String value) {
        requireNonNull(value, "value is null");
        for (AdapterInitialization initialization : values()) {
            if (initialization.optionValue.equals(value)) {
                return initialization;
            }
        }
        throw new IllegalArgumentException(String.format("init_weights must be one of %s, but is \"%s\"", OPTION_VALUES, value));
    }
}
