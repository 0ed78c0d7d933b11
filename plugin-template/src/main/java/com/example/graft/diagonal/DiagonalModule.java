package com.example.graft.diagonal;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.NormalInitializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;

/**
 * The diagonal method at one linear site: a trainable vector {@code diagonal_d} of length {@code k = min(in, out)}
 * whose update is {@code ΔW = diag(d)}, the {@code (out, in)} matrix with {@code d} on its main diagonal. The additive
 * term is {@code x·diag(d)ᵀ}: the first {@code k} inputs times {@code d} in the first {@code k} outputs, zeros in the
 * others. It declares {@code ΔW = diag(d)}; the SPI base merges it exactly into {@code W}.
 *
 * <p>The parameter name is the checkpoint key relative to the site ({@code <site>.diagonal_d}); the
 * {@code diagonal_} prefix follows PEFT's rule that a method's keys start with its name and an underscore.
 */
public final class DiagonalModule extends LinearModuleBlock.MergeableAdditive {
    /** The parameter name and checkpoint key suffix of {@code d}. */
    public static final String DIAGONAL = "diagonal_d";

    private final int length;
    private final Parameter diagonal;

    /**
     * Makes the module and registers {@code d} with its shape and initializer.
     *
     * @param site the linear site
     * @param initStd the standard deviation of {@code d}'s normal initialization; 0 starts at {@code d = 0}
     */
    public DiagonalModule(LinearSite site, float initStd) {
        super(site);
        if (!(initStd >= 0)) {
            throw new IllegalArgumentException(format("diagonal at %s: init_std must be >= 0, but is %s", site.name(), initStd));
        }
        this.length = diagonalLength(site);
        this.diagonal = addParameter(Parameter.builder()
                .setName(DIAGONAL)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(length))
                .optInitializer(initStd == 0 ? new ConstantInitializer(0) : new NormalInitializer(initStd))
                .build());
    }

    /** The length {@code min(in, out)} of the diagonal of {@code site}'s weight. */
    public static int diagonalLength(LinearSite site) {
        return Math.min(site.inFeatures(), site.outFeatures());
    }

    @Override
    protected String label() {
        return DiagonalMethod.ID;
    }

    /** The diagonal is added as is. */
    @Override
    public float scaling() {
        return 1;
    }

    /**
     * {@code x·diag(d)ᵀ} for {@code x} of shape {@code (..., in)}: {@code x[..., :k] ⊙ d} in the first {@code k} outputs
     * and zeros in the remaining {@code out − k}. Temporaries live in a sub-manager; the result is attached to
     * {@code x}'s manager.
     */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        if (x.getShape().dimension() == 0 || x.getShape().getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "diagonal at %s: input has shape %s, but its last dimension must be in=%d", site().name(), x.getShape(), site().inFeatures()));
        }
        try (NDManager scope = x.getManager().newSubManager()) {
            scope.tempAttachAll(x);
            NDArray d = parameterStore.getValue(diagonal, x.getDevice(), training);
            NDArray scaled = x.get(new NDIndex("..., :{}", length)).mul(d);
            int missing = site().outFeatures() - length;
            NDArray result = missing == 0
                    ? scaled
                    : scaled.concat(scope.zeros(scaled.getShape().slice(0, scaled.getShape().dimension() - 1).add(missing), x.getDataType(), x.getDevice()), -1);
            return scope.ret(result);
        }
    }

    /** {@code ΔW = diag(d)} in float32; the base class adds it to {@code W} (merge) or subtracts it (unmerge). */
    @Override
    protected NDArray deltaWeight(NDManager scope) {
        NDArray d = diagonal.getArray().toDevice(scope.getDevice(), false).toType(DataType.FLOAT32, false);
        // eye(out, in) has ones at (i, i) for i < k; scaling its rows (k = out) or its columns (k = in) by d gives diag(d).
        return scope.eye(site().outFeatures(), site().inFeatures(), 0, DataType.FLOAT32, scope.getDevice())
                .mul(length == site().outFeatures() ? d.reshape(length, 1) : d.reshape(1, length));
    }

    @Override
    public String toString() {
        return format("DiagonalModule(%s, k=%d)", site().name(), length);
    }
}
