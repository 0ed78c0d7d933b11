package dev.graft.spi;

/**
 * A place in a model where a method module attaches, named by its Hugging Face module path
 * (for example {@code model.layers.0.self_attn.q_proj}), so PEFT targeting rules and checkpoint keys
 * work verbatim.
 */
public sealed interface Site permits LinearSite, SublayerSite, AttentionSite, EmbeddingSite {
    /** The Hugging Face module path of this site. */
    String name();

    /** The kind of this site. */
    SiteKind kind();

    /** The index of the transformer layer this site belongs to, or -1 when it belongs to none. */
    int layerIndex();
}
