package dev.graft.spi;

/** Which sublayer of a transformer layer a {@link SublayerSite} is. */
public enum SublayerKind {
    /** The (self-)attention sublayer. */
    ATTENTION,
    /** The feed-forward (MLP) sublayer. */
    FEED_FORWARD
}
