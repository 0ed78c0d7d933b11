package dev.graft.plugin.lora;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.Initializer;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.BaseDerivedLinearModule;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.LowRankLinearModule;
import dev.graft.spi.MatrixDecompositions;
import dev.graft.spi.MatrixDecompositions.QrDecomposition;
import dev.graft.spi.MatrixDecompositions.SingularValueDecomposition;

import java.util.Map;
import java.util.SplittableRandom;

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
 *
 * <p>With {@code init_lora_weights} {@code pissa}, {@code pissa_niter_K} or {@code olora} the start is derived from
 * the base weight ({@link BaseDerivedLinearModule}): the factors PEFT computes, kept as frozen initial factors too,
 * so the module adds {@code s·(B·A − B₀·A₀)} to the unchanged base, which is PEFT's model on its residual base.
 */
public final class LoraModule extends LowRankLinearModule implements BaseDerivedLinearModule {
    private final LoraInitialization initialization;
    private final int powerIterations;

    private LoraModule(Builder builder) {
        super(builder);
        this.initialization = builder.initialization;
        this.powerIterations = builder.powerIterations;
    }

    /** How the matrices start. */
    public LoraInitialization initialization() {
        return initialization;
    }

    @Override
    public boolean derivesFromBase() {
        return initialization.derivesFromBase();
    }

    /**
     * PEFT's {@code pissa_init} or {@code olora_init} on {@code base.weight()} (computed in float64): sets {@code A}
     * and {@code B} and records them as the initial factors.
     *
     * @throws IllegalArgumentException if {@code r} exceeds {@code min(in, out)}, the most a decomposition of {@code W} gives
     * @throws IllegalStateException if this module's start is not derived from the base
     */
    @Override
    public void initializeFromBase(LinearWeights base) {
        if (!derivesFromBase()) {
            throw new IllegalStateException(format("LoRA at %s starts with %s, which is not derived from the base weight", site().name(), initialization));
        }
        int rank = rank();
        int out = site().outFeatures();
        int in = site().inFeatures();
        if (rank > Math.min(in, out)) {
            throw new IllegalArgumentException(format("LoRA at %s: init_lora_weights %s takes r = %d components of the weight, but the %d×%d weight has only %d; "
                    + "lower r (or its rank_pattern entry) to at most %d", site().name(), initialization, rank, out, in, Math.min(in, out), Math.min(in, out)));
        }
        double[][] weight = matrix(base.weight(), out, in);
        float[] down = new float[rank * in];
        float[] up = new float[out * rank];
        if (initialization == LoraInitialization.OLORA) {
            QrDecomposition qr = MatrixDecompositions.qr(weight);
            for (int row = 0; row < rank; row++) {
                for (int column = 0; column < in; column++) {
                    down[row * in + column] = (float) qr.r()[row][column];
                }
            }
            for (int row = 0; row < out; row++) {
                for (int column = 0; column < rank; column++) {
                    up[row * rank + column] = (float) qr.q()[row][column];
                }
            }
        }
        else {
            SingularValueDecomposition svd = initialization == LoraInitialization.PISSA
                    ? MatrixDecompositions.svd(weight)
                    : MatrixDecompositions.randomizedSvd(weight, rank, powerIterations, new SplittableRandom(seed()));
            for (int component = 0; component < rank; component++) {
                double root = Math.sqrt(svd.singularValues()[component] / scaling());
                for (int column = 0; column < in; column++) {
                    down[component * in + column] = (float) (root * svd.vt()[component][column]);
                }
                for (int row = 0; row < out; row++) {
                    up[row * rank + component] = (float) (svd.u()[row][component] * root);
                }
            }
        }
        try (NDManager scope = base.weight().getManager().newSubManager()) {
            NDArray a = scope.create(down, new Shape(rank, in));
            NDArray b = scope.create(up, new Shape(out, rank));
            setFactors(a, b);
            setInitialFactors(a, b);
        }
    }

    /** PEFT's conversion to a plain LoRA of rank {@code 2r}: {@code [A; A₀]} and {@code [B, −B₀]}. */
    @Override
    public Map<String, NDArray> saveConvertedState(NDManager manager) {
        return convertedFactors(manager);
    }

    /** A seed fixed by the site and rank, so the randomized SVD's test matrix is the same at every attach. */
    private long seed() {
        return 31L * site().name().hashCode() + rank();
    }

    private static double[][] matrix(NDArray array, int rows, int columns) {
        float[] values = array.toType(DataType.FLOAT32, false).toFloatArray();
        double[][] matrix = new double[rows][columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                matrix[row][column] = values[row * columns + column];
            }
        }
        return matrix;
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
        return format("LoraModule(%s, r=%d, scaling=%s, dropout=%s, lora_bias=%s, init=%s)", site().name(), rank(), scaling(), dropout(), hasLoraBias(), initialization);
    }

    /** Builds a {@link LoraModule}; see {@link LowRankLinearModule.Builder}. */
    public static final class Builder extends LowRankLinearModule.Builder<Builder> {
        private LoraInitialization initialization = LoraInitialization.KAIMING_UNIFORM;
        private int powerIterations;

        private Builder(LinearSite site) {
            super(site);
        }

        /** How the matrices start ({@code init_lora_weights}); Kaiming-uniform {@code A}, zero {@code B} by default. */
        public Builder optInitialization(LoraInitialization initialization) {
            this.initialization = initialization;
            return this;
        }

        /** The {@code K} of {@code pissa_niter_K}: subspace iterations of the randomized SVD (0 by default). */
        public Builder optPowerIterations(int powerIterations) {
            if (powerIterations < 0) {
                throw new IllegalArgumentException(format("powerIterations must be at least 0, but is %d", powerIterations));
            }
            this.powerIterations = powerIterations;
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
