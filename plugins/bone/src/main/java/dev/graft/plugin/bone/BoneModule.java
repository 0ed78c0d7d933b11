package dev.graft.plugin.bone;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.training.initializer.UniformInitializer;
import dev.graft.spi.Dropouts;
import dev.graft.spi.LinearModuleBlock;
import dev.graft.spi.LinearSite;

/**
 * Bone at one linear site, as PEFT's {@code BoneLinear} with {@code init_weights} true or false, and MiSS's default
 * and {@code mini} variants, as PEFT's {@code MissLinear} (the same math under the name {@code miss_block}, see
 * {@link BlockFamily}): one {@code bone_block} of shape {@code (r, out)} shared by every {@code r}-column block of
 * {@code W}. With MiSS's {@code mini} ({@link Builder#optMiniRank}) the trained tensor is {@code (r, mini_r)}, and the
 * block used below is it repeated {@code out/mini_r} times along the output axis: {@code block[k][o] = B[k][o mod mini_r]}.
 * <ul>
 *   <li>forward: {@code x} is zero-padded to a multiple of {@code r}, reshaped to {@code (..., in'/r, r)} and
 *       summed over the blocks, then {@code Δy = x̃·bone_block};</li>
 *   <li>merge: {@code bone_blockᵀ} {@code (out, r)} is added to every full {@code r}-column block of {@code W}; a
 *       remainder block of {@code in mod r} columns gets the first {@code in mod r} columns of {@code bone_blockᵀ}
 *       (exactly what the zero padding does in forward). Unmerge subtracts the same.</li>
 * </ul>
 * The module declares that {@code ΔW}; the SPI base merges and unmerges it.
 */
public final class BoneModule extends LinearModuleBlock.MergeableAdditive {
    /** Bone's parameter name (and checkpoint key suffix) of the block, shape {@code (r, out)}. */
    public static final String BONE_BLOCK = "bone_block";

    private final BlockFamily family;
    private final int rank;
    private final int miniRank;
    private final float dropout;
    private final Parameter block;

    private BoneModule(Builder builder) {
        super(builder.site);
        LinearSite site = builder.site;
        this.family = builder.family;
        if (builder.rank <= 0) {
            throw new IllegalArgumentException(format("%s at %s: r must be greater than 0, but is %d", family.label(), site.name(), builder.rank));
        }
        if (!(builder.dropout >= 0 && builder.dropout < 1)) {
            throw new IllegalArgumentException(format("%s at %s: dropout must be in [0, 1), but is %s", family.label(), site.name(), builder.dropout));
        }
        if (builder.miniRank < 0 || builder.miniRank > 0 && site.outFeatures() % builder.miniRank != 0) {
            throw new IllegalArgumentException(format(
                    "%s at %s: mini_r=%d must divide out=%d", family.label(), site.name(), builder.miniRank, site.outFeatures()));
        }
        if (builder.miniRank > 0 && builder.randomStart) {
            throw new IllegalArgumentException(format("%s at %s: mini starts at zero, so it has no random start", family.label(), site.name()));
        }
        this.rank = builder.rank;
        this.miniRank = builder.miniRank;
        this.dropout = builder.dropout;
        this.block = addParameter(Parameter.builder()
                .setName(family.parameterName())
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rank, miniRank > 0 ? miniRank : site.outFeatures()))
                .optInitializer(builder.randomStart ? new UniformInitializer((float) (1 / Math.sqrt(site.outFeatures()))) : new ConstantInitializer(0f))
                .build());
    }

    /** A builder for Bone at {@code site}: {@code setRank} is required. */
    public static Builder builder(LinearSite site) {
        return new Builder(site);
    }

    @Override
    protected String label() {
        return family.label();
    }

    /** Always 1, as PEFT's Bone and MiSS. */
    @Override
    public float scaling() {
        return 1f;
    }

    /** {@code sum over blocks of pad(dropout(x))} times the {@code (r, out)} block, shape {@code (..., out)}. */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        requireNonNull(x, "x is null");
        Shape shape = x.getShape();
        if (shape.dimension() == 0 || shape.getLastDimension() != site().inFeatures()) {
            throw new IllegalArgumentException(format(
                    "%s at %s: input has shape %s, but its last dimension must be in=%d", family.label(), site().name(), shape, site().inFeatures()));
        }
        NDArray weights = fullWidth(parameterStore.getValue(block, x.getDevice(), training));
        NDArray input = Dropouts.apply(x, dropout, training);
        int remainder = site().inFeatures() % rank;
        if (remainder != 0) {
            Shape padding = shape.slice(0, shape.dimension() - 1).add(rank - remainder);
            input = NDArrays.concat(new NDList(input, input.getManager().zeros(padding, input.getDataType(), input.getDevice())), -1);
        }
        long blocks = input.getShape().getLastDimension() / rank;
        NDArray summed = input.reshape(shape.slice(0, shape.dimension() - 1).add(blocks, rank)).sum(new int[] {shape.dimension() - 1});
        return summed.matMul(weights);
    }

    /** {@code ΔW}: the {@code (r, out)} block transposed in every {@code r}-column block, in float32; the bias is unchanged. */
    @Override
    protected NDArray deltaWeight(NDManager scope) {
        long blocks = (site().inFeatures() + rank - 1) / rank;
        return fullWidth(block.getArray().toType(DataType.FLOAT32, false)).transpose()
                .tile(new long[] {1, blocks})
                .get(new NDIndex(":, :{}", site().inFeatures()));
    }

    /** The trained tensor as an {@code (r, out)} block: itself, or for mini {@code (r, mini_r)} repeated {@code out/mini_r} times along the columns. */
    private NDArray fullWidth(NDArray trained) {
        if (miniRank == 0) {
            return trained;
        }
        return trained.tile(new long[] {1, site().outFeatures() / miniRank});
    }

    @Override
    public String toString() {
        if (miniRank > 0) {
            return format("BoneModule(%s, %s, r=%d, mini_r=%d, dropout=%s)", site().name(), family.label(), rank, miniRank, dropout);
        }
        return format("BoneModule(%s, %s, r=%d, dropout=%s)", site().name(), family.label(), rank, dropout);
    }

    /** Builds a {@link BoneModule} in DJL's style: {@code setX} for what is required, {@code optX} for what has a default. */
    public static final class Builder {
        private final LinearSite site;
        private BlockFamily family = BlockFamily.BONE;
        private int rank;
        private int miniRank;
        private boolean randomStart;
        private float dropout;

        private Builder(LinearSite site) {
            this.site = requireNonNull(site, "site is null");
        }

        /** The block size {@code r}, at least 1 (required). */
        public Builder setRank(int rank) {
            this.rank = rank;
            return this;
        }

        /** Which names the module carries: {@code bone_block} or {@code miss_block} (Bone's by default). */
        public Builder optFamily(BlockFamily family) {
            this.family = requireNonNull(family, "family is null");
            return this;
        }

        /**
         * MiSS's {@code mini}: train an {@code (r, mini_r)} tensor repeated {@code out/mini_r} times along the output
         * axis; {@code mini_r} must divide {@code out}. 0 (the default) trains the full {@code (r, out)} block.
         */
        public Builder optMiniRank(int miniRank) {
            this.miniRank = miniRank;
            return this;
        }

        /** {@code init_weights: false}: Kaiming-uniform ({@code a = √5}, fan-in {@code out}) instead of zero (false by default). */
        public Builder optRandomStart(boolean randomStart) {
            this.randomStart = randomStart;
            return this;
        }

        /** The dropout probability on the input while training, in {@code [0, 1)} (0 by default). */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** The module. */
        public BoneModule build() {
            return new BoneModule(this);
        }
    }
}
