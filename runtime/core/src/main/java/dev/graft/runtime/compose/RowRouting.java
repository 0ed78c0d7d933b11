package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Per-example adapter routing (PEFT's {@code adapter_names}, AdapterHub's {@code BatchSplit}): one adapter name,
 * or {@code null} for the base model, per row of the batch. While a routing is {@linkplain #enter entered} on a
 * thread, every site computes the attachments of the routed adapters (whatever their activation) and applies
 * each one's contribution only to its rows through a 0/1 row mask: additive terms and sublayer deltas are
 * masked, a scale {@code s} becomes {@code 1 + m·(s − 1)}, a weight transform's {@code x·ΔWᵀ} is added masked,
 * prefix keys are hidden from the other rows by the attention mask, and prompt tokens are laid out per row
 * (see the models). Inference only; the model refuses training under a routing.
 *
 * <p>Not thread-safe: a routing belongs to the thread that entered it, and is left by {@link #close()}.
 */
public final class RowRouting implements AutoCloseable {
    private static final ThreadLocal<RowRouting> CURRENT = new ThreadLocal<>();

    private final List<String> rowAdapters;
    private final Set<String> adapterNames;
    private final NDManager manager;
    private final Map<String, NDArray> masks = new HashMap<>();

    private RowRouting(List<String> rowAdapters, NDManager manager) {
        this.rowAdapters = Collections.unmodifiableList(new ArrayList<>(rowAdapters));
        Set<String> names = new LinkedHashSet<>();
        for (String name : rowAdapters) {
            if (name != null) {
                names.add(name);
            }
        }
        this.adapterNames = Collections.unmodifiableSet(names);
        this.manager = manager;
    }

    /**
     * Routes the forward passes this thread runs until the returned routing is closed. The row masks are made in
     * a sub-manager of {@code parent}, freed on close. Callers validate the names ({@code PeftModel.route}).
     *
     * @param rowAdapters one adapter name per row, {@code null} for a row that runs the base model alone
     * @throws IllegalStateException if this thread is already routing
     */
    public static RowRouting enter(List<String> rowAdapters, NDManager parent) {
        requireNonNull(rowAdapters, "rowAdapters is null");
        requireNonNull(parent, "parent is null");
        if (rowAdapters.isEmpty()) {
            throw new IllegalArgumentException("a routing needs at least one row");
        }
        if (CURRENT.get() != null) {
            throw new IllegalStateException("this thread is already routing rows to adapters; close that routing first");
        }
        RowRouting routing = new RowRouting(rowAdapters, parent.newSubManager());
        CURRENT.set(routing);
        return routing;
    }

    /** The routing of this thread's forward passes, if one is entered. */
    public static Optional<RowRouting> current() {
        return Optional.ofNullable(CURRENT.get());
    }

    /** One adapter name per row, {@code null} for a base row. */
    public List<String> rowAdapters() {
        return rowAdapters;
    }

    /** The number of rows. */
    public int rows() {
        return rowAdapters.size();
    }

    /** The adapters some row names, in first-row order. */
    public Set<String> adapterNames() {
        return adapterNames;
    }

    /** Whether some row uses {@code adapterName}. */
    public boolean routes(String adapterName) {
        return adapterNames.contains(adapterName);
    }

    /** The adapter of {@code row}, empty for a base row. */
    public Optional<String> adapterOf(int row) {
        return Optional.ofNullable(rowAdapters.get(row));
    }

    /**
     * The float32 row mask of {@code adapterName}, shaped {@code (rows, 1, ..., 1)} with {@code axes} axes so that
     * it broadcasts against an activation with as many axes: 1 on the adapter's rows, 0 elsewhere. Owned by the
     * routing: do not close it, and use it as the second operand so that results land in the caller's scope.
     */
    public NDArray mask(String adapterName, int axes) {
        if (axes < 1) {
            throw new IllegalArgumentException(format("a row mask needs at least one axis, asked for %d", axes));
        }
        return masks.computeIfAbsent(adapterName + "/" + axes, key -> {
            float[] values = new float[rowAdapters.size()];
            for (int row = 0; row < values.length; row++) {
                values[row] = adapterName.equals(rowAdapters.get(row)) ? 1f : 0f;
            }
            long[] shape = new long[axes];
            Arrays.fill(shape, 1);
            shape[0] = values.length;
            return manager.create(values, new Shape(shape));
        });
    }

    /**
     * Checks that an activation reaching {@code siteName} has one row per routed row.
     *
     * @throws IllegalStateException when its batch differs
     */
    public void checkRows(NDArray activation, String siteName) {
        long batch = activation.getShape().get(0);
        if (batch != rowAdapters.size()) {
            throw new IllegalStateException(format("the batch at %s has %d rows, but the routing names an adapter for %d rows",
                    siteName, batch, rowAdapters.size()));
        }
    }

    /** Leaves the routing and frees its masks. */
    @Override
    public void close() {
        if (CURRENT.get() == this) {
            CURRENT.remove();
        }
        manager.close();
    }
}
