package dev.graft.plugin.lora;

import static java.lang.String.format;

/**
 * How the LoRA matrices start, after PEFT's {@code init_lora_weights}.
 */
public enum LoraInitialization {
    /**
     * {@code init_lora_weights: true}, PEFT's default: {@code lora_A} Kaiming-uniform with {@code a = √5}, which is
     * {@code U(−1/√in, 1/√in)}; {@code lora_B} (and its bias) zero, so the adapter starts as a no-op.
     */
    KAIMING_UNIFORM,
    /**
     * {@code init_lora_weights: "gaussian"}: {@code lora_A ~ N(0, (1/r)²)}; {@code lora_B} (and its bias) zero, so
     * the adapter starts as a no-op.
     */
    GAUSSIAN,
    /**
     * {@code init_lora_weights: false}: both matrices keep PyTorch's {@code nn.Linear} default,
     * {@code U(−1/√fan_in, 1/√fan_in)} with {@code fan_in = in} for {@code lora_A} and {@code fan_in = r} for
     * {@code lora_B} and its bias. The adapter does not start as a no-op; PEFT documents this for debugging only.
     */
    LINEAR_DEFAULT,
    /**
     * {@code init_lora_weights: "pissa"} (PiSSA, Meng et al. 2024), PEFT's {@code pissa_init}: with the exact SVD
     * {@code W = U·S·Vᵀ} and {@code S' = S[:r]/s}, {@code lora_A = diag(√S')·Vᵀ[:r]} and
     * {@code lora_B = U[:, :r]·diag(√S')}, so {@code s·B·A} is the best rank-{@code r} part of {@code W}, which the
     * adapter takes over from the base (see {@link dev.graft.spi.BaseDerivedLinearModule}).
     */
    PISSA,
    /**
     * {@code init_lora_weights: "pissa_niter_K"}: {@link #PISSA} with PEFT's fast SVD, {@code torch.svd_lowrank(W, r,
     * niter=K)} (a randomized range finder with {@code K} subspace iterations). Graft draws the Gaussian test matrix
     * from a generator seeded by the site's name, so the start is the same each time the adapter is attached (PyTorch
     * draws from its global generator); as in PEFT, {@code s·B₀·A₀} is then only close to the best rank-{@code r}
     * part, and exactly what the adapter takes over from the base.
     */
    PISSA_RANDOMIZED,
    /**
     * {@code init_lora_weights: "olora"} (OLoRA, Büyükakyüz 2024), PEFT's {@code olora_init}: with the reduced QR
     * decomposition {@code W = Q·R} (in float32 in PEFT, float64 here; LAPACK's signs), {@code lora_A = R[:r]} and
     * {@code lora_B = Q[:, :r]}, not rescaled; the adapter takes {@code s·B·A} over from the base.
     */
    OLORA;

    /** The prefix of {@code pissa_niter_K}. */
    static final String PISSA_NITER_PREFIX = "pissa_niter_";

    /** Whether this start is derived from the base weight (PiSSA and OLoRA). */
    public boolean derivesFromBase() {
        return this == PISSA || this == PISSA_RANDOMIZED || this == OLORA;
    }

    /**
     * The initialization named by a validated {@code init_lora_weights} value.
     *
     * @param value {@code true}, {@code false}, {@code "gaussian"}, {@code "pissa"}, {@code "pissa_niter_K"} or {@code "olora"}
     * @throws IllegalArgumentException for any other value
     */
    public static LoraInitialization fromOption(Object value) {
        if (Boolean.TRUE.equals(value)) {
            return KAIMING_UNIFORM;
        }
        if (Boolean.FALSE.equals(value)) {
            return LINEAR_DEFAULT;
        }
        if ("gaussian".equals(value)) {
            return GAUSSIAN;
        }
        if ("pissa".equals(value)) {
            return PISSA;
        }
        if ("olora".equals(value)) {
            return OLORA;
        }
        if (value instanceof String && ((String) value).startsWith(PISSA_NITER_PREFIX) && powerIterations(value) >= 0) {
            return PISSA_RANDOMIZED;
        }
        throw new IllegalArgumentException(format(
                "init_lora_weights must be true, false, \"gaussian\", \"pissa\", \"pissa_niter_K\" or \"olora\", but is %s", value));
    }

    /** The {@code K} of {@code "pissa_niter_K"}, or -1 for any other value. */
    static int powerIterations(Object value) {
        if (!(value instanceof String) || !((String) value).startsWith(PISSA_NITER_PREFIX)) {
            return -1;
        }
        try {
            return Integer.parseInt(((String) value).substring(PISSA_NITER_PREFIX.length()));
        }
        catch (NumberFormatException e) {
            return -1;
        }
    }
}
