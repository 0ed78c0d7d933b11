package dev.graft.runtime.loader;

/** The floating-point type a model's base weights are loaded in. */
public enum WeightPrecision {
    /** Every floating-point weight as float32; F16 and BF16 checkpoints are widened exactly. */
    FLOAT32,
    /**
     * Each weight in its stored type where the engine can hold it: F32 and F16 stay as they are. BF16 is widened to
     * float32 (exactly), because DJL 0.36's PyTorch engine cannot hold bfloat16 arrays.
     */
    AS_STORED
}
