package dev.graft.runtime.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.spi.ModelContext;
import dev.graft.spi.Site;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A base model whose sites methods attach to: a DJL {@link Block} taking {@code [input_ids, attention_mask?, ...]}
 * (the rest in Hugging Face's argument order: {@code position_ids?} for a decoder, {@code token_type_ids?,
 * position_ids?} for BERT) and returning its main output first (logits for a decoder, {@code last_hidden_state}
 * for an encoder, which may add its pooled output). Base parameters are frozen.
 */
public interface TransformerModel extends Block {
    /** The Hugging Face {@code model_type}. */
    String modelType();

    /** What methods may know about this model. */
    ModelContext context();

    /** Every site, in model order. */
    List<Site> sites();

    /** The attachments at {@code site} (one of {@link #sites()}). */
    SiteAttachments attachments(Site site);

    /** The linear site block named {@code name}. */
    LinearSiteBlock linearSite(String name);

    /** The names of output layers that {@code all-linear} targeting leaves out (e.g. {@code lm_head}). */
    Set<String> outputLayerNames();

    /** The base weights by Hugging Face key (e.g. {@code model.layers.0.self_attn.q_proj.weight}), current values. */
    Map<String, NDArray> stateDict();

    /** The manager that owns the base weights. */
    NDManager manager();
}
