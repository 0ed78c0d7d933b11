package dev.graft.spi;

/** The kinds of places in a model where a method can attach. See {@link Site}. */
public enum SiteKind {
    /** A frozen linear layer {@code y = x·Wᵀ + b}: LoRA, VeRA, IA³, Bone attach here. */
    LINEAR,
    /** The output of an attention or feed-forward sublayer before the residual add: bottleneck adapters. */
    SUBLAYER,
    /** The key/value stream of one attention layer: prefix tuning. */
    ATTENTION,
    /** The input embeddings of the sequence: prompt tuning. */
    EMBEDDING
}
