package dev.graft.plugin.ia3;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;

/**
 * IA³ at one linear site: a learned vector {@code ia3_l} that rescales the site's output ({@code (out, 1)}, for
 * attention projections) or, at a feed-forward site, its input ({@code (1, in)}), with PEFT's shapes so the default
 * {@link dev.graft.spi.MethodModule#saveState} writes PEFT's {@code <module>.ia3_l}.
 * <ul>
 *   <li>output side: {@code y = (x·Wᵀ + b) ⊙ l}; merge {@code W ← W ⊙ l} by rows and {@code b ← b ⊙ l};</li>
 *   <li>input side: {@code y = (x ⊙ l)·Wᵀ + b}; merge {@code W ← W ⊙ l} by columns, the bias unchanged.</li>
 * </ul>
 * Unmerging divides by {@code l + 1e-8}, as PEFT does, so it is exact only up to that tolerance and fails for a
 * scale of exactly {@code −1e-8}.
 */
public final class Ia3Module extends LinearModuleBlock.Scaling implements MergeableLinearModule {
    /** The parameter name (and checkpoint key suffix) of the scaling vector. */
    public static final String IA3_L = "ia3_l";

    /** What unmerging adds to the scale before dividing by it, as PEFT. */
    public static final float UNMERGE_EPSILON = 1e-8f;

    private final boolean feedForward;
    private final Parameter scale;

    /**
     * Makes the module and registers {@code ia3_l}.
     *
     * @param site the linear site
     * @param feedForward whether the site is feed-forward (its input is scaled)
     * @param initOnes {@code init_ia3_weights}: start at 1 (a no-op), otherwise at {@code N(0, 1)}
     */
    public Ia3Module(LinearSite site, boolean feedForward, boolean initOnes) {
        super(site);
        this.feedForward = feedForward;
        this.scale = addParameter(Parameter.builder()
                .setName(IA3_L)
                .setType(Parameter.Type.WEIGHT)
                .optShape(feedForward ? new Shape(1, site.inFeatures()) : new Shape(site.outFeatures(), 1))
                .optInitializer(initOnes ? new ConstantInitializer(1f) : new NormalInitializer(1f))
                .build());
    }

    /** Whether the site is feed-forward. */
    public boolean isFeedForward() {
        return feedForward;
    }

    /** {@link Side#INPUT} at a feed-forward site, {@link Side#OUTPUT} otherwise. */
    @Override
    public Side side() {
        return feedForward ? Side.INPUT : Side.OUTPUT;
    }

    /** {@code ia3_l} as a vector of width {@code in} (input side) or {@code out} (output side). */
    @Override
    public NDArray scale(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        return parameterStore.getValue(scale, x.getDevice(), training).reshape(-1);
    }

    /** {@code W ⊙ l} (by rows, with the bias, on the output side; by columns on the input side), in float32. */
    @Override
    public LinearWeights merge(LinearWeights base) {
        return rescale(requireNonNull(base, "base is null"), false);
    }

    /** {@code W ⊘ (l + 1e-8)}, and the bias likewise on the output side; the inverse of {@link #merge}. */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        return rescale(requireNonNull(merged, "merged is null"), true);
    }

    private LinearWeights rescale(LinearWeights weights, boolean divide) {
        NDArray weight = weights.weight();
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("IA3 at %s: weight has shape %s, expected %s", site().name(), weight.getShape(), expected));
        }
        if (!scale.isInitialized()) {
            throw new IllegalStateException(format("IA3 at %s: parameter %s is not initialized", site().name(), IA3_L));
        }
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, scale.getArray());
            NDArray factor = scale.getArray().toType(DataType.FLOAT32, false);
            if (divide) {
                factor = factor.add(UNMERGE_EPSILON);
            }
            NDArray scaledWeight = apply(weight, factor, divide);
            NDArray scaledBias = null;
            if (weights.hasBias()) {
                NDArray bias = weights.bias();
                scope.tempAttachAll(bias);
                scaledBias = feedForward ? bias.duplicate() : apply(bias, factor.reshape(-1), divide);
                scope.ret(scaledBias);
            }
            return new LinearWeights(scope.ret(scaledWeight), scaledBias);
        }
    }

    private static NDArray apply(NDArray values, NDArray factor, boolean divide) {
        NDArray values32 = values.toType(DataType.FLOAT32, false);
        NDArray result = divide ? values32.div(factor) : values32.mul(factor);
        return result.toType(values.getDataType(), false);
    }

    @Override
    public String toString() {
        return format("Ia3Module(%s, %s)", site().name(), feedForward ? "feed-forward, input scaled" : "output scaled");
    }
}
