package dev.graft.plugin.bone;

import static java.util.Objects.requireNonNull;

import com.google.auto.service.AutoService;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;

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
 */
@AutoService(PeftMethod.class)
public final class BoneMethod implements PeftMethod {
    private static final MethodDescriptor DESCRIPTOR = new MethodDescriptor(
            BoneConfiguration.METHOD_ID,
            "0.1.0",
            SpiVersion.CURRENT,
            "BONE",
            Set.of(SiteKind.LINEAR),
            dev.graft.spi.MergeableLinearModule.class,
            BoneConfiguration.SCHEMA,
            Map.of(
                    "llama", List.of("q_proj", "v_proj"),
                    "bert", List.of("query", "value"),
                    "roberta", List.of("query", "value")),
            "Bone/Bat block affine adaptation: a shared r x out block added to every column block, or a blockwise affine weight transform (PEFT 0.14-0.18 compatible)");

    /** Creates the provider; it holds no tensors. */
    public BoneMethod() {}

    @Override
    public MethodDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /**
     * Creates a Bone adapter.
     *
     * @throws dev.graft.spi.InvalidOptionsException for {@code r < 1}, {@code bone_dropout} outside {@code [0, 1)},
     *         or a non-zero {@code bone_dropout} with {@code init_weights: "bat"}
     */
    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        return new BoneInstance(BoneConfiguration.fromOptions(options));
    }
}
