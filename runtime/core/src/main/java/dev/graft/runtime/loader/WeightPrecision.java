package dev.graft.runtime.loader;

/** The floating-point type a model's base weights are loaded in. */
public enum WeightPrecision {
    /** Every floating-point weight as float32; F16 and BF16 checkpoints are widened exactly. */
    FLOAT32,
    /**
     * Each weight in its stored type where the engine can hold it: F32 and F16 stay as they are. BF16 is widened to
     * float32 (exactly), because DJL 0.36's PyTorch engine cannot hold bfloat16 arrays.
     */
    AS_STORED,
    /**
     * Every floating-point weight as float16, whatever it is stored as, so that a BF16 checkpoint takes its file
     * size in memory instead of twice that. F16 is kept; BF16, F32 and F64 are rounded to float16 in Java, tensor
     * by tensor, straight from the memory-mapped file (no float32 copy of a tensor or of the file is ever made).
     * The whole model is float16 (a half-precision forward needs every weight in one type), so F32 weights are
     * rounded too.
     *
     * <p>BF16 values in float16's normal range ({@code 2⁻¹⁴} to {@code 65504}) convert exactly; smaller ones lose
     * bits as float16 subnormals, and those of magnitude up to {@code 2⁻²⁵} become zero. A finite value beyond
     * ±65504 fails the load with an error naming the tensor, the element and its value: clamping it would silently
     * change the model (for such checkpoints, use {@link #FLOAT32}). Adapters on a float16 base still train in
     * float32; each site casts their contributions to float16 where it adds them.
     */
    HALF
}
