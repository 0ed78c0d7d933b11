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
 * Bone and Bat (Kang 2024, arXiv 2409.15371, "Block-Affine Adaptation"), with Hugging Face PEFT's semantics, options
 * and checkpoint layout as of PEFT v0.14 to v0.18 (PEFT later replaced Bone with MiSS). Both train one tensor per
 * linear layer, {@code bone_block}, with {@code r·out} parameters:
 * <ul>
 *   <li><b>Bone</b> ({@code init_weights: true}, the default): {@code bone_block (r × out)}, zero at start; the
 *       input is zero-padded to a multiple of {@code r}, its {@code r}-wide blocks are summed, and
 *       {@code Δy = x̃·bone_block}; merging adds {@code bone_blockᵀ} to every {@code r}-column block of {@code W}
 *       (see {@link BoneModule}). {@code init_weights: false} starts it Kaiming-uniform instead.</li>
 *   <li><b>Bat</b> ({@code init_weights: "bat"}): {@code bone_block (out/r × r × r)}, zero at start, transforming
 *       the weight itself blockwise, {@code ΔW_ij = W_ij·B_i + B_i}; unmerging inverts {@code I + B_i} (see
 *       {@link BatModule}). Needs every target's {@code in} and {@code out} to be multiples of {@code r}.</li>
 * </ul>
 * Default targets are LoRA's (PEFT copies LoRA's table for Bone): llama {@code q_proj, v_proj}, bert
 * {@code query, value}. Checkpoints hold {@code base_model.model.<module>.bone_block} with {@code peft_type: BONE}.
 *
 * <p>PEFT v0.19 replaced Bone with MiSS ({@link MissMethod}, id {@code miss}, in the same plugin jar): a Bone folder
 * is a MiSS folder with {@code peft_type: BONE} instead of {@code MISS} and {@code bone_block} keys instead of
 * {@code miss_block} (PEFT's {@code scripts/convert-bone-to-miss.py} changes exactly those); {@code init_weights}
 * true, false and {@code "bat"} mean the same in both. {@code BONE} folders keep loading here.
 */
@AutoService(PeftMethod.class)
public final class BoneMethod extends LinearMethod<BoneConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public BoneMethod() {
        super(BoneConfiguration.class, describe()
                .setId(BoneConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("BONE")
                .setModuleType(MergeableLinearModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value"),
                        "roberta", List.of("query", "value")))
                .setDescription("Bone/Bat block affine adaptation: a shared r x out block added to every column block, or a blockwise affine weight transform (PEFT 0.14-0.18 compatible)"));
    }

    /**
     * For Bat, checks that every target divides into {@code r × r} blocks, before any tensor is made.
     *
     * @throws dev.graft.spi.InvalidOptionsException naming the first target whose {@code in} or {@code out} is not a
     *         multiple of {@code r}
     */
    @Override
    protected void checkSites(BoneConfiguration options, List<Site> sites) {
        if (options.variant() != BoneVariant.BAT) {
            return;
        }
        int rank = options.rank();
        for (Site site : sites) {
            LinearSite linear = (LinearSite) site;
            if (linear.inFeatures() % rank != 0 || linear.outFeatures() % rank != 0) {
                throw invalidValue(id(), "r", rank, format(
                        "a divisor of every target's in and out features with init_weights \"bat\", but %s has in=%d, out=%d; "
                                + "choose another r or use init_weights true", site.name(), linear.inFeatures(), linear.outFeatures()));
            }
        }
    }

    /** A {@link BatModule} for Bat, a {@link BoneModule} otherwise. */
    @Override
    protected MethodModule module(BoneConfiguration options, LinearSite site) {
        if (options.variant() == BoneVariant.BAT) {
            return new BatModule(site, options.rank());
        }
        return BoneModule.builder(site)
                .setRank(options.rank())
                .optRandomStart(options.variant() == BoneVariant.BONE_RANDOM)
                .optDropout((float) options.dropout())
                .build();
    }

    /** {@code r·out}, for Bone and Bat alike. */
    @Override
    protected long parameterCount(BoneConfiguration options, LinearSite site) {
        return (long) options.rank() * site.outFeatures();
    }
}
