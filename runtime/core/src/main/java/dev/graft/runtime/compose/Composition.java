package dev.graft.runtime.compose;

/** How an adapter's contribution is combined with the others at a site. */
public enum Composition {
    /** Applied as is; several adapters active at once add up. */
    SUM,
    /** Scaled by a learned UniPELT gate per (adapter, site); cannot merge. */
    GATED
}
