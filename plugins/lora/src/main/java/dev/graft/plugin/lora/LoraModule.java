package dev.graft.plugin.lora;

import static java.lang.String.format;

import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LowRankLinearModule;

/**
 * LoRA at one linear site, with Hugging Face PEFT's tensors and semantics: {@code lora_A.weight} of shape
 * {@code (r, in)}, {@code lora_B.weight} of shape {@code (out, r)} and, with {@code lora_bias}, {@code lora_B.bias} of
 * shape {@code (out)}. The site computes {@code y = x·Wᵀ + b + s·B(A(dropout(x)))} with {@code s = α/r} (or
 * {@code α/√r} with rsLoRA); merging folds {@code s·B·A} into {@code W} (and {@code s·lora_B.bias} into {@code b}).
 * The tensors, {@code delta} and the merge are the SPI's {@link LowRankLinearModule}; LoRA adds its initializations.
 *
 * <p>The parameter names are the checkpoint keys relative to the site, so the default
 * {@link dev.graft.spi.MethodModule#saveState} writes PEFT's {@code <site>.lora_A.weight} and
 * {@code <site>.lora_B.weight}. {@link #forward} returns the unscaled {@link #delta}; the runtime calls
 * {@link #delta} directly.
 */
public final class LoraModule extends LowRankLinearModule {
    private LoraModule(Builder builder) {
        super(builder);
    }

    /** A builder for LoRA at {@code site}: {@code setRank} is required. */
    public static Builder builder(LinearSite site) {
        return new Builder(site);
    }

    /** Whether {@code lora_B} has a bias ({@code lora_bias}). */
    public boolean hasLoraBias() {
        return hasUpBias();
    }

    @Override
    protected String label() {
        return "LoRA";
    }

    @Override
    public String toString() {
        return format("LoraModule(%s, r=%d, scaling=%s, dropout=%s, lora_bias=%s)", site().name(), rank(), scaling(), dropout(), hasLoraBias());
    }

    /** Builds a {@link LoraModule}; see {@link LowRankLinearModule.Builder}. */
    public static final class Builder extends LowRankLinearModule.Builder<Builder> {
        private LoraInitialization initialization = LoraInitialization.KAIMING_UNIFORM;

        private Builder(LinearSite site) {
            super(site);
        }

        /** How the matrices start ({@code init_lora_weights}); Kaiming-uniform {@code A}, zero {@code B} by default. */
        public Builder optInitialization(LoraInitialization initialization) {
            this.initialization = initialization;
            return this;
        }

        /** The module. */
        public LoraModule build() {
            if (initialization == null) {
                throw new NullPointerException("initialization is null");
            }
            int rank = Math.max(rank(), 1);
            Initializer up = initialization == LoraInitialization.LINEAR_DEFAULT
                    ? new UniformInitializer((float) (1 / Math.sqrt(rank)))
                    : new ConstantInitializer(0);
            Initializer down = initialization == LoraInitialization.GAUSSIAN
                    ? new NormalInitializer(1f / rank)
                    : new UniformInitializer((float) (1 / Math.sqrt(site().inFeatures())));
            optInitializers(down, up);
            return new LoraModule(this);
        }

        @Override
        protected Builder self() {
            return this;
        }
    }
}
