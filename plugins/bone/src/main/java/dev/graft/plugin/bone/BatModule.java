package dev.graft.plugin.bone;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;

/**
 * Bat (block affine transformation) at one linear site, as PEFT's {@code BoneLinear} with {@code init_weights: "bat"}:
 * {@code bone_block} of shape {@code (out/r, r, r)} holds one {@code r × r} matrix {@code B_i} per output block,
 * zero at start. With {@code W_ij} the {@code r × r} block of {@code W} in output block {@code i} and input
 * block {@code j}, the site computes with {@code W_ij + ΔW_ij}, where
 * <pre>
 *   ΔW_ij = W_ij·B_i + B_i
 * </pre>
 * Merge adds {@code ΔW}; unmerge inverts it exactly: {@code W_ij = (W'_ij − B_i)(I + B_i)⁻¹}, in float32. MiSS's
 * {@code init_weights: "bat"} ({@code MissLinear}) is the same math with the tensor named {@code miss_block} (see
 * {@link BlockFamily}).
 */
public final class BatModule extends LinearModuleBlock.WeightTransform implements MergeableLinearModule {
    /** The parameter name (and checkpoint key suffix) of the blocks, shape {@code (out/r, r, r)}. */
    public static final String BONE_BLOCK = "bone_block";

    private final BlockFamily family;
    private final int rank;
    private final Parameter block;

    /**
     * Makes Bone's Bat and registers {@code bone_block}, zero at start.
     *
     * @param site the linear site; {@code in} and {@code out} must be multiples of {@code rank}
     * @param rank the block size {@code r}
     */
    public BatModule(LinearSite site, int rank) {
        this(site, rank, BlockFamily.BONE);
    }

    /**
     * Makes the module and registers its block tensor ({@code bone_block} or {@code miss_block}), zero at start.
     *
     * @param site the linear site; {@code in} and {@code out} must be multiples of {@code rank}
     * @param rank the block size {@code r}
     * @param family which names the module carries
     */
    public BatModule(LinearSite site, int rank, BlockFamily family) {
        super(site);
        this.family = requireNonNull(family, "family is null");
        if (rank <= 0 || site.inFeatures() % rank != 0 || site.outFeatures() % rank != 0) {
            throw new IllegalArgumentException(format(
                    "%s at %s: in=%d and out=%d must be multiples of r=%d (the weight must divide into r x r blocks)",
                    family.batLabel(), site.name(), site.inFeatures(), site.outFeatures(), rank));
        }
        this.rank = rank;
        this.block = addParameter(Parameter.builder()
                .setName(family.parameterName())
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(site.outFeatures() / rank, rank, rank))
                .optInitializer(new ConstantInitializer(0f))
                .build());
    }

    /** {@code ΔW} with {@code ΔW_ij = W_ij·B_i + B_i}, shape {@code (out, in)}, in {@code weight}'s data type. */
    @Override
    public NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        checkShape(requireNonNull(weight, "weight is null"));
        NDArray blocks = parameterStore.getValue(block, weight.getDevice(), training);
        return fromBlocks(toBlocks(weight).matMul(blocks).add(blocks));
    }

    /** {@code W + ΔW(W)}, in float32; the bias is unchanged. */
    @Override
    public LinearWeights merge(LinearWeights base) {
        requireNonNull(base, "base is null");
        NDArray weight = checkShape(base.weight());
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, initialized());
            NDArray weight32 = weight.toType(DataType.FLOAT32, false);
            NDArray blocks = block.getArray().toType(DataType.FLOAT32, false);
            NDArray merged = weight32.add(fromBlocks(toBlocks(weight32).matMul(blocks).add(blocks)));
            return new LinearWeights(scope.ret(merged.toType(weight.getDataType(), false)), base.bias());
        }
    }

    /**
     * {@code W_ij = (W'_ij − B_i)(I + B_i)⁻¹}, in float32; the exact inverse of {@link #merge} where {@code I + B_i} is
     * invertible.
     *
     * @throws IllegalStateException if some {@code I + B_i} is singular
     */
    @Override
    public LinearWeights unmerge(LinearWeights merged) {
        requireNonNull(merged, "merged is null");
        NDArray weight = checkShape(merged.weight());
        try (NDManager scope = weight.getManager().newSubManager()) {
            scope.tempAttachAll(weight, initialized());
            NDArray blocks = block.getArray().toType(DataType.FLOAT32, false);
            NDArray inverse;
            try {
                inverse = scope.eye(rank).add(blocks).inverse();
            }
            catch (EngineException e) {
                throw new IllegalStateException(format(
                        "%s at %s: cannot unmerge, because I + %s[i] is singular for some output block i, so the merged weight does not "
                                + "determine the original; keep a copy of the base weights instead", family.batLabel(), site().name(), family.parameterName()), e);
            }
            NDArray restored = fromBlocks(toBlocks(weight.toType(DataType.FLOAT32, false)).sub(blocks).matMul(inverse));
            return new LinearWeights(scope.ret(restored.toType(weight.getDataType(), false)), merged.bias());
        }
    }

    /** {@code (out, in)} → {@code (in/r, out/r, r, r)}: element {@code [j, i]} is the block {@code W_ij}. */
    private NDArray toBlocks(NDArray weight) {
        return weight.reshape(site().outFeatures() / rank, rank, site().inFeatures() / rank, rank).transpose(2, 0, 1, 3);
    }

    /** The inverse of {@link #toBlocks}. */
    private NDArray fromBlocks(NDArray blocks) {
        return blocks.transpose(1, 2, 0, 3).reshape(site().outFeatures(), site().inFeatures());
    }

    private NDArray checkShape(NDArray weight) {
        Shape expected = new Shape(site().outFeatures(), site().inFeatures());
        if (!weight.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("%s at %s: weight has shape %s, expected %s", family.batLabel(), site().name(), weight.getShape(), expected));
        }
        return weight;
    }

    private NDArray initialized() {
        if (!block.isInitialized()) {
            throw new IllegalStateException(format("%s at %s: parameter %s is not initialized", family.batLabel(), site().name(), family.parameterName()));
        }
        return block.getArray();
    }

    @Override
    public String toString() {
        return format("BatModule(%s, %s, r=%d)", site().name(), family.label(), rank);
    }
}
