package dev.graft.runtime.compose;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.spi.PrefixKeyValues;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.PromptModule;
import dev.graft.spi.Scalars;
import dev.graft.spi.SublayerModule;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Composition of the modules at sublayer, attention and embedding sites. */
public final class SiteOps {
    private SiteOps() {}

    /**
     * {@code h + Σ c_i·delta_i(x_in, h)}, with {@code c_i} the module's scaling or its gate on {@code h}, times the
     * adapter's {@linkplain Attachment#blockWeight() weight} under an {@link Average} block. Under a {@link Stack}
     * block the stacked modules run in stack order, each reading the previous one's output:
     * {@code h_i = h_{i−1} + c_i·delta_i(x_in, h_{i−1})}, gates reading {@code h_{i−1}}. Under a {@link Fuse} block
     * the fused adapters' terms {@code d_i = c_i·delta_i} are not added: the site's {@link FusionLayer} adds
     * {@code Σ p_i·V·d_i} instead, its query the sublayer output {@code h}.
     */
    public static NDArray sublayer(ParameterStore parameterStore, SiteAttachments attachments, NDArray sublayerInput, NDArray sublayerOutput, boolean training) {
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return sublayerOutput;
        }
        List<Block> blocks = blocks(live);
        attachments.fusion().ifPresent(blocks::add);
        try (NDManager scope = Scopes.open(sublayerOutput, List.of(sublayerInput), blocks, sharedParameters(live))) {
            // modules and gates see float32 (as at linear sites) and their terms are cast back where they are added,
            // differentiably: on a float16 base, DJL's toType would cut the adapter off from autograd
            NDArray input = Casts.toType(sublayerInput, DataType.FLOAT32);
            NDArray output = Casts.toType(sublayerOutput, DataType.FLOAT32);
            NDArray result = sublayerOutput;
            Optional<RowRouting> routing = RowRouting.current();
            routing.ifPresent(current -> current.checkRows(sublayerOutput, attachments.site().name()));
            List<NDArray> fused = new ArrayList<>();
            for (Attachment attachment : stackOrder(live)) {
                SublayerModule module = (SublayerModule) attachment.module();
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    // a stacked module reads the output so far; the others read the sublayer's own output
                    NDArray read = attachment.stackPosition() >= 0 ? Casts.toType(result, DataType.FLOAT32) : output;
                    NDArray delta = module.delta(parameterStore, input, read, training);
                    NDArray scaled = attachment.gate().isPresent()
                            ? attachment.weighted(delta.mul(attachment.gate().get().value(parameterStore, read, training)))
                            : Scalars.times(delta, module.scaling() * attachment.blockWeight());
                    if (routing.isPresent()) {
                        scaled = scaled.mul(routing.get().mask(attachment.adapterName(), scaled.getShape().dimension()));
                    }
                    if (attachments.isFused(attachment.adapterName())) {
                        fused.add(scaled);
                        continue;
                    }
                    result = result.add(Casts.toType(scaled, result.getDataType()));
                }
            }
            if (!fused.isEmpty()) {
                // a fuse block: the sublayer output attends over the fused adapters' terms (AdapterFusion)
                NDArray fusion = attachments.fusion().orElseThrow().fuse(parameterStore, output, fused, training);
                result = result.add(Casts.toType(fusion, result.getDataType()));
            }
            return scope.ret(result);
        }
    }

    /** The live attachments with the stacked ones (stack position ≥ 0) first, in stack order; the others after, in order. */
    private static List<Attachment> stackOrder(List<Attachment> live) {
        List<Attachment> ordered = new ArrayList<>(live);
        ordered.sort(Comparator.comparingInt(attachment -> attachment.stackPosition() < 0 ? Integer.MAX_VALUE : attachment.stackPosition()));
        return ordered;
    }

    /**
     * The number of virtual tokens each live prefix module at this attention site adds, by adapter, in
     * attachment order.
     */
    public static Map<String, Integer> prefixLengths(SiteAttachments attachments) {
        Map<String, Integer> lengths = new LinkedHashMap<>();
        for (Attachment attachment : attachments.live()) {
            try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                lengths.put(attachment.adapterName(), ((PrefixModule) attachment.module()).numVirtualTokens());
            }
        }
        return lengths;
    }

    /** The total number of virtual tokens the live prefix modules at this attention site add. */
    public static int prefixLength(SiteAttachments attachments) {
        int length = 0;
        for (Attachment attachment : attachments.live()) {
            try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                length += ((PrefixModule) attachment.module()).numVirtualTokens();
            }
        }
        return length;
    }

    /**
     * The virtual keys and values of the live prefix modules, concatenated in attachment order and broadcast over
     * the batch: each {@code (batch, kvHeads, n, headDim)}; {@code null} when there are none. Gates read
     * {@code attentionInput} {@code (batch, sequence, hidden)}. Under a {@link RowRouting} a third array follows:
     * the prefix keys' mask {@code (batch, n)}, 1 where a key belongs to the row's adapter and 0 elsewhere, for
     * the model to hide the other adapters' virtual keys from each row.
     */
    public static NDList prefix(ParameterStore parameterStore, SiteAttachments attachments, NDArray attentionInput, boolean training) {
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return null;
        }
        long batch = attentionInput.getShape().get(0);
        try (NDManager scope = Scopes.open(attentionInput, List.of(), blocks(live), sharedParameters(live))) {
            NDList keys = new NDList();
            NDList values = new NDList();
            NDList keyMasks = new NDList();
            Optional<RowRouting> routing = RowRouting.current();
            routing.ifPresent(current -> current.checkRows(attentionInput, attachments.site().name()));
            for (Attachment attachment : live) {
                PrefixKeyValues keyValues;
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    keyValues = ((PrefixModule) attachment.module()).keyValues(parameterStore, attentionInput, training);
                }
                NDArray key = broadcastBatch(keyValues.keys(), batch);
                NDArray value = broadcastBatch(keyValues.values(), batch);
                if (attachment.gate().isPresent()) {
                    NDArray gate = attachment.gate().get().value(parameterStore, attentionInput, training).expandDims(-1);
                    key = key.mul(gate);
                    value = value.mul(gate);
                }
                keys.add(key);
                values.add(value);
                if (routing.isPresent()) {
                    NDArray rows = routing.get().mask(attachment.adapterName(), 2);
                    keyMasks.add(scope.zeros(new Shape(batch, key.getShape().get(2))).add(rows));
                }
            }
            NDArray key = keys.size() == 1 ? keys.get(0) : NDArrays.concat(keys, 2);
            NDArray value = values.size() == 1 ? values.get(0) : NDArrays.concat(values, 2);
            if (routing.isPresent()) {
                NDArray keyMask = keyMasks.size() == 1 ? keyMasks.get(0) : NDArrays.concat(keyMasks, 1);
                return new NDList(scope.ret(key), scope.ret(value), scope.ret(keyMask));
            }
            return new NDList(scope.ret(key), scope.ret(value));
        }
    }

    /**
     * The embeddings with the live prompt modules' virtual tokens prepended: {@code (batch, n + sequence, hidden)}.
     * Under a {@link RowRouting}, {@code n} is the longest routed prompt ({@link #promptLength}) and each row gets
     * its own adapter's tokens right-aligned against its real tokens, after zero padding that the model masks out
     * ({@link #promptRowLengths}); a base row gets padding only.
     */
    public static NDArray prompt(ParameterStore parameterStore, SiteAttachments attachments, NDArray embeddings, boolean training) {
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return embeddings;
        }
        long batch = embeddings.getShape().get(0);
        try (NDManager scope = Scopes.open(embeddings, List.of(), blocks(live), sharedParameters(live))) {
            NDList parts = new NDList();
            // as at sublayer sites: modules and gates see float32, their tokens are cast to the embeddings' type differentiably
            NDArray embeddings32 = Casts.toType(embeddings, DataType.FLOAT32);
            Optional<RowRouting> routing = RowRouting.current();
            if (routing.isPresent()) {
                routing.get().checkRows(embeddings, attachments.site().name());
                return scope.ret(routedPrompt(parameterStore, scope, live, embeddings, embeddings32, routing.get(), promptLength(attachments), training));
            }
            for (Attachment attachment : live) {
                NDArray tokens;
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    tokens = broadcastBatch(((PromptModule) attachment.module()).virtualTokens(parameterStore, embeddings32, training), batch);
                }
                if (attachment.gate().isPresent()) {
                    tokens = tokens.mul(attachment.gate().get().value(parameterStore, embeddings32, training));
                }
                parts.add(Casts.toType(tokens, embeddings.getDataType()));
            }
            parts.add(embeddings);
            return scope.ret(NDArrays.concat(parts, 1));
        }
    }

    /** Per-row prompt tokens: the sum of each routed adapter's tokens, right-aligned and masked to its rows. */
    private static NDArray routedPrompt(ParameterStore parameterStore, NDManager scope, List<Attachment> live, NDArray embeddings, NDArray embeddings32, RowRouting routing,
            int width, boolean training) {
        long batch = embeddings.getShape().get(0);
        long hidden = embeddings.getShape().get(2);
        NDArray tokens = null;
        for (Attachment attachment : live) {
            NDArray own;
            try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                own = broadcastBatch(((PromptModule) attachment.module()).virtualTokens(parameterStore, embeddings32, training), batch);
            }
            if (attachment.gate().isPresent()) {
                own = own.mul(attachment.gate().get().value(parameterStore, embeddings32, training));
            }
            long length = own.getShape().get(1);
            if (length < width) {
                own = scope.zeros(new Shape(batch, width - length, hidden)).concat(own, 1);
            }
            own = own.mul(routing.mask(attachment.adapterName(), 3));
            tokens = tokens == null ? own : tokens.add(own);
        }
        return NDArrays.concat(new NDList(Casts.toType(tokens, embeddings.getDataType()), embeddings), 1);
    }

    /**
     * The total number of virtual tokens the live prompt modules add; under a {@link RowRouting}, the most any
     * routed adapter adds (each row gets one adapter's tokens, the shorter ones after padding).
     */
    public static int promptLength(SiteAttachments attachments) {
        int length = 0;
        for (int rowLength : promptLengths(attachments).values()) {
            length = RowRouting.current().isPresent() ? Math.max(length, rowLength) : length + rowLength;
        }
        return length;
    }

    /** The number of virtual tokens each live prompt module adds, by adapter, in attachment order. */
    public static Map<String, Integer> promptLengths(SiteAttachments attachments) {
        Map<String, Integer> lengths = new LinkedHashMap<>();
        for (Attachment attachment : attachments.live()) {
            try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                lengths.put(attachment.adapterName(), ((PromptModule) attachment.module()).numVirtualTokens());
            }
        }
        return lengths;
    }

    /**
     * Under {@code routing}, the number of prompt tokens each row really gets: its adapter's, 0 for a base row or
     * an adapter with no prompt at this site.
     */
    public static int[] promptRowLengths(SiteAttachments attachments, RowRouting routing) {
        Map<String, Integer> lengths = promptLengths(attachments);
        int[] rows = new int[routing.rows()];
        for (int row = 0; row < rows.length; row++) {
            rows[row] = routing.adapterOf(row).map(name -> lengths.getOrDefault(name, 0)).orElse(0);
        }
        return rows;
    }

    private static NDArray broadcastBatch(NDArray array, long batch) {
        long[] shape = new long[array.getShape().dimension() + 1];
        shape[0] = batch;
        System.arraycopy(array.getShape().getShape(), 0, shape, 1, shape.length - 1);
        return array.expandDims(0).broadcast(new Shape(shape));
    }

    /** The shared parameters of the attachments' adapters. */
    static List<Parameter> sharedParameters(List<Attachment> live) {
        List<Parameter> parameters = new ArrayList<>();
        for (Attachment attachment : live) {
            parameters.addAll(attachment.sharedParameters());
        }
        return parameters;
    }

    /** The modules and gates of the attachments. */
    static List<Block> blocks(List<Attachment> live) {
        List<Block> blocks = new ArrayList<>();
        for (Attachment attachment : live) {
            blocks.add(attachment.module());
            attachment.gate().ifPresent(blocks::add);
        }
        return blocks;
    }
}
