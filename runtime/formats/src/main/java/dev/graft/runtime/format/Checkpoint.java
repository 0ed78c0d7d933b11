package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * Named tensors read from safetensors: one file ({@link SafetensorsFile}) or a sharded checkpoint
 * ({@link ShardedCheckpoint}). Open one with {@link Checkpoints#open}.
 *
 * <p>Loading never reads a whole file into memory: each tensor's bytes are mapped from the file when they
 * are asked for and copied once into the array. Instances are safe to read from several threads; closing
 * while another thread reads is not.
 */
public interface Checkpoint extends AutoCloseable {
    /** The tensor names, in the order the header (or the index's weight map) lists them. */
    List<String> names();

    /** Whether a tensor named {@code name} exists. */
    boolean contains(String name);

    /**
     * The header entry of tensor {@code name}.
     *
     * @throws SafetensorsException if there is no such tensor
     */
    TensorInfo info(String name);

    /** The file-level metadata: the {@code __metadata__} map of a file, the {@code metadata} map of an index. */
    Map<String, String> metadata();

    /**
     * The bytes of tensor {@code name}: a read-only, little-endian view of the file, row-major, in the
     * tensor's dtype. A tensor over 2 GiB cannot be viewed as one buffer and is refused.
     */
    ByteBuffer data(String name);

    /**
     * Loads tensor {@code name} as an array of {@code manager}, in the DJL type closest to its dtype:
     * F32, F64, F16, I64, I32, I8, U8 and BOOL as themselves; BF16 as FLOAT32 (exact) and I16, U16 as
     * INT32 and U32 as INT64 (exact), because DJL's PyTorch engine cannot hold those types. U64 and the
     * 8-bit float dtypes are refused. The array is named {@code name} and owns a copy of the bytes.
     */
    NDArray load(String name, NDManager manager);

    /**
     * Loads tensor {@code name} converted to {@code target}, for example an F16 or BF16 tensor as
     * {@link DataType#FLOAT32}. Targets DJL's PyTorch engine cannot hold (BFLOAT16, INT16, UINT16,
     * UINT32, UINT64) are refused. BF16, F32 and F64 tensors asked for as {@link DataType#FLOAT16} are rounded
     * in Java, straight from the file's bytes (to nearest, ties to even; exact for BF16 in float16's normal
     * range), and a finite value beyond float16's ±65504 is refused with an error naming the tensor.
     */
    NDArray load(String name, NDManager manager, DataType target);

    /** Releases the open files; arrays already loaded stay valid. */
    @Override
    void close();
}
