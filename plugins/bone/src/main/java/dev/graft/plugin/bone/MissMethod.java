package dev.graft.plugin.bone;

import static dev.graft.spi.InvalidOptionsException.invalidValue;
import static java.lang.String.format;

import com.google.auto.service.AutoService;
import dev.graft.spi.LinearMethod;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodModule;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;

import java.util.List;
import java.util.Map;

/**
 * MiSS ("Matrix Shard Sharing", Kang, arXiv 2409.15371, the paper's later versions), with Hugging Face PEFT's
 * semantics, options ({@link MissConfiguration}) and checkpoint layout as of PEFT v0.19, where it replaced Bone. Each
 * linear target trains one tensor, {@code miss_block}:
 * <ul>
 *   <li><b>default</b> ({@code init_weights: true}): {@code miss_block (r × out)}, zero at start; the input is
 *       zero-padded to a multiple of {@code r}, its {@code r}-wide blocks are summed, and {@code Δy = x̃·miss_block};
 *       merging adds {@code miss_blockᵀ} to every {@code r}-column block of {@code W} (a last partial block gets its
 *       first columns), unmerging subtracts it. {@code r·out} parameters. {@code init_weights: false} starts it
 *       Kaiming-uniform instead.</li>
 *   <li><b>bat</b> ({@code init_weights: "bat"}): {@code miss_block (out/r × r × r)}, zero at start, transforming the
 *       weight blockwise, {@code ΔW_ij = W_ij·B_i + B_i}; unmerging inverts {@code I + B_i}. {@code r·out}
 *       parameters; every target's {@code in} and {@code out} must be multiples of {@code r}.</li>
 *   <li><b>mini</b> ({@code init_weights: "mini"}): {@code miss_block (r × mini_r)}, zero at start, repeated
 *       {@code out/mini_r} times along the output axis and then used as the default's block. {@code r·mini_r}
 *       parameters; every target's {@code out} must be a multiple of {@code mini_r}.</li>
 * </ul>
 * <b>Bone → MiSS.</b> PEFT's {@code scripts/convert-bone-to-miss.py} turns a Bone folder into a MiSS folder by
 * setting {@code peft_type} to {@code MISS} and renaming every {@code .bone_} key to {@code .miss_}
 * ({@code bone_block} → {@code miss_block}), tensors unchanged: Bone's {@code init_weights} true, false and
 * {@code "bat"} are MiSS's with the same math and shapes, and {@code r} keeps its meaning. MiSS adds
 * {@code miss_dropout} (Graft's {@code bone_dropout}) and {@code mini}/{@code mini_r}. {@code BONE} folders keep
 * loading with the {@code bone} method ({@link BoneMethod}), from the same plugin jar; both methods share the modules
 * ({@link BoneModule}, {@link BatModule}, named through {@link BlockFamily}).
 *
 * <p>Default targets are LoRA's (PEFT copies LoRA's table for MiSS): llama {@code q_proj, v_proj}, bert
 * {@code query, value}. Checkpoints hold {@code base_model.model.<module>.miss_block} with {@code peft_type: MISS}.
 */
@AutoService(PeftMethod.class)
public final class MissMethod extends LinearMethod<MissConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public MissMethod() {
        super(MissConfiguration.class, describe()
                .setId(MissConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("MISS")
                .setModuleType(MergeableLinearModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value"),
                        "roberta", List.of("query", "value")))
                .setDescription("MiSS matrix shard sharing (Bone's successor): a shared r x out block added to every column block, "
                        + "its \"bat\" blockwise affine transform and its \"mini\" r x mini_r block (PEFT 0.19+ compatible)"));
    }

    /**
     * For bat, checks that every target divides into {@code r × r} blocks; for mini, that {@code mini_r} divides every
     * target's {@code out}; before any tensor is made.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the first target that does not divide
     */
    @Override
    protected void checkSites(MissConfiguration options, List<Site> sites) {
        MissVariant variant = options.variant();
        for (Site site : sites) {
            LinearSite linear = (LinearSite) site;
            if (variant == MissVariant.BAT && (linear.inFeatures() % options.rank() != 0 || linear.outFeatures() % options.rank() != 0)) {
                throw invalidValue(id(), "r", options.rank(), format(
                        "a divisor of every target's in and out features with init_weights \"bat\", but %s has in=%d, out=%d; "
                                + "choose another r or use init_weights true", site.name(), linear.inFeatures(), linear.outFeatures()));
            }
            if (variant == MissVariant.MINI && linear.outFeatures() % options.miniRank() != 0) {
                throw invalidValue(id(), "mini_r", options.miniRank(), format(
                        "a divisor of every target's out features with init_weights \"mini\", but %s has out=%d; "
                                + "choose another mini_r or use init_weights true", site.name(), linear.outFeatures()));
            }
        }
    }

    /** A {@link BatModule} for bat, a {@link BoneModule} otherwise, both named {@code miss_block}. */
    @Override
    protected MethodModule module(MissConfiguration options, LinearSite site) {
        MissVariant variant = options.variant();
        if (variant == MissVariant.BAT) {
            return new BatModule(site, options.rank(), BlockFamily.MISS);
        }
        return BoneModule.builder(site)
                .optFamily(BlockFamily.MISS)
                .setRank(options.rank())
                .optMiniRank(variant == MissVariant.MINI ? options.miniRank() : 0)
                .optRandomStart(variant == MissVariant.MISS_RANDOM)
                .optDropout((float) options.dropout())
                .build();
    }

    /** {@code r·out} for the default and bat, {@code r·mini_r} for mini. */
    @Override
    protected long parameterCount(MissConfiguration options, LinearSite site) {
        if (options.variant() == MissVariant.MINI) {
            return (long) options.rank() * options.miniRank();
        }
        return (long) options.rank() * site.outFeatures();
    }
}
