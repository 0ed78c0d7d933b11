package dev.graft.runtime.compose;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Memory scoping (DESIGN.md, "Memory is speed"): a block's temporaries live in a sub-manager that is closed
 * when the block returns; only the output leaves. DJL puts an op's result in its first operand's manager, so
 * the inputs and the parameters a block reads are attached to the scope for its duration: every array the
 * block makes, whatever the operand order, is freed when the scope closes.
 */
public final class Scopes {
    private Scopes() {}

    /**
     * Opens a scope under {@code anchor}'s manager with {@code anchor}, {@code others} and the parameters of
     * {@code blocks} temporarily attached to it. Close it after {@code scope.ret(output)}.
     */
    public static NDManager open(NDArray anchor, List<NDArray> others, List<? extends Block> blocks) {
        return open(anchor, others, blocks, List.of());
    }

    /**
     * Like {@link #open(NDArray, List, List)}, also attaching {@code parameters} that belong to no block of the
     * list (an adapter's shared parameters, such as VeRA's projections).
     */
    public static NDManager open(NDArray anchor, List<NDArray> others, List<? extends Block> blocks, List<Parameter> parameters) {
        NDManager scope = anchor.getManager().newSubManager();
        // by identity: NDArray.equals compares contents, a native pass over two same-shaped weights per pair
        Set<NDArray> attach = Collections.newSetFromMap(new IdentityHashMap<>());
        attach.add(anchor);
        for (NDArray other : others) {
            if (other != null) {
                attach.add(other);
            }
        }
        for (Block block : blocks) {
            for (Pair<String, Parameter> parameter : block.getParameters()) {
                NDArray array = parameter.getValue().getArray();
                if (array != null) {
                    attach.add(array);
                }
            }
        }
        for (Parameter parameter : parameters) {
            NDArray array = parameter.getArray();
            if (array != null) {
                attach.add(array);
            }
        }
        scope.tempAttachAll(attach.toArray(new NDArray[0]));
        return scope;
    }
}
