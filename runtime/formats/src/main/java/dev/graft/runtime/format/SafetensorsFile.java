package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * One safetensors file, memory-mapped and bounds-checked.
 *
 * <p>{@link #open} reads and validates the header only (see {@link SafetensorsHeader} for the rules, which
 * are those of the Rust {@code safetensors} crate). Tensor bytes are mapped per tensor when asked for, so
 * files of any size work, including tensors beyond the first 2 GiB; a single tensor is limited to 2 GiB,
 * the most one Java buffer or one DJL array can hold.
 */
public final class SafetensorsFile implements Checkpoint {
    private final Path path;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private final Map<String, TensorInfo> tensors;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, SafetensorsHeader header) {
        this.path = requireNonNull(path, "path is null");
        this.channel = requireNonNull(channel, "channel is null");
        this.header = requireNonNull(header, "header is null");
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        for (TensorInfo tensor : header.tensors()) {
            byName.put(tensor.name(), tensor);
        }
        this.tensors = byName;
    }

    /**
     * Opens {@code path} and validates its header.
     *
     * @throws SafetensorsException if the file cannot be read or is not a valid safetensors file
     */
    public static SafetensorsFile open(Path path) {
        requireNonNull(path, "path is null");
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        }
        catch (IOException e) {
            throw new SafetensorsException(format("Cannot open safetensors file %s: %s", path, e), e);
        }
        try {
            return new SafetensorsFile(path, channel, SafetensorsHeader.read(path, channel));
        }
        catch (IOException | RuntimeException e) {
            try {
                channel.close();
            }
            catch (IOException closeFailure) {
                e.addSuppressed(closeFailure);
            }
            if (e instanceof IOException) {
                throw new SafetensorsException(format("Cannot read safetensors file %s: %s", path, e), e);
            }
            throw (RuntimeException) e;
        }
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    @Override
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(requireNonNull(name, "name is null"));
    }

    @Override
    public TensorInfo info(String name) {
        requireNonNull(name, "name is null");
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new SafetensorsException(format("Safetensors file %s has no tensor '%s'; it has %d tensors%s",
                    path, name, tensors.size(), examples(tensors.keySet())));
        }
        return info;
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    @Override
    public ByteBuffer data(String name) {
        TensorInfo info = info(name);
        if (info.byteSize() > Integer.MAX_VALUE) {
            throw new SafetensorsException(format("Cannot view tensor '%s' of %s as one buffer: it is %d bytes, over the 2 GiB limit of a Java buffer",
                    name, path, info.byteSize()));
        }
        checkOpen();
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, header.dataStart() + info.dataBegin(), info.byteSize())
                    .asReadOnlyBuffer()
                    .order(ByteOrder.LITTLE_ENDIAN);
        }
        catch (IOException e) {
            throw new SafetensorsException(format("Cannot map tensor '%s' of %s: %s", name, path, e), e);
        }
    }

    @Override
    public NDArray load(String name, NDManager manager) {
        requireNonNull(manager, "manager is null");
        return TensorConversions.toArray(describe(name), info(name), data(name), manager, null);
    }

    @Override
    public NDArray load(String name, NDManager manager, DataType target) {
        requireNonNull(manager, "manager is null");
        requireNonNull(target, "target is null");
        return TensorConversions.toArray(describe(name), info(name), data(name), manager, target);
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        }
        catch (IOException e) {
            throw new SafetensorsException(format("Cannot close safetensors file %s: %s", path, e), e);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(format("Safetensors file %s is closed", path));
        }
    }

    private String describe(String name) {
        return format("tensor '%s' of %s", name, path);
    }

    /** A few names of {@code names} for an error message: ", for example: a, b, c". */
    static String examples(Collection<String> names) {
        if (names.isEmpty()) {
            return "";
        }
        return ", for example: " + String.join(", ", names.stream().limit(5).toList());
    }
}
