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
    /** The additive bias of a key no query may see: the float32 minimum, so half precision never meets an infinity. */
    public static final float MASKED = -Float.MAX_VALUE;

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
                            : scaled(delta, module.scaling() * attachment.blockWeight());
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

    /** {@code delta · factor}; {@code delta} itself for a factor of 1 (no multiplication over the whole output, forward or backward). */
    private static NDArray scaled(NDArray delta, float factor) {
        return factor == 1f ? delta : Scalars.times(delta, factor);
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
     * the batch: each {@code (batch, kvHeads, n, headDim)}; {@code null} when there are none. When a prefix is gated
     * or a {@link RowRouting} is set, a third array follows: the prefix keys' attention weights {@code (batch, n)},
     * float32 in [0, 1], for the model to turn into an additive bias with {@link #attentionBias}: a gated prefix's
     * keys weigh its gate {@code g} (read from {@code attentionInput} {@code (batch, sequence, hidden)}), so their
     * attention weight is multiplied by {@code g} before the softmax normalises (0 hides them, 1 is the plain
     * prefix); under a routing a key weighs 0 in the rows of other adapters.
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
            NDList keyWeights = new NDList();
            Optional<RowRouting> routing = RowRouting.current();
            routing.ifPresent(current -> current.checkRows(attentionInput, attachments.site().name()));
            boolean weighted = routing.isPresent() || live.stream().anyMatch(attachment -> attachment.gate().isPresent());
            for (Attachment attachment : live) {
                PrefixKeyValues keyValues;
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    keyValues = ((PrefixModule) attachment.module()).keyValues(parameterStore, attentionInput, training);
                }
                NDArray key = broadcastBatch(keyValues.keys(), batch);
                keys.add(key);
                values.add(broadcastBatch(keyValues.values(), batch));
                if (weighted) {
                    NDArray weight = scope.ones(new Shape(batch, key.getShape().get(2)));
                    if (attachment.gate().isPresent()) {
                        weight = weight.mul(Casts.toType(attachment.gate().get().value(parameterStore, attentionInput, training), DataType.FLOAT32).reshape(batch, 1));
                    }
                    if (routing.isPresent()) {
                        weight = weight.mul(routing.get().mask(attachment.adapterName(), 2));
                    }
                    keyWeights.add(weight);
                }
            }
            NDArray key = keys.size() == 1 ? keys.get(0) : NDArrays.concat(keys, 2);
            NDArray value = values.size() == 1 ? values.get(0) : NDArrays.concat(values, 2);
            if (weighted) {
                NDArray keyWeight = keyWeights.size() == 1 ? keyWeights.get(0) : NDArrays.concat(keyWeights, 1);
                return new NDList(scope.ret(key), scope.ret(value), scope.ret(keyWeight));
            }
            return new NDList(scope.ret(key), scope.ret(value));
        }
    }

    /**
     * The embeddings with the live prompt modules' virtual tokens prepended: {@code (batch, n + sequence, hidden)},
     * first in the list. When a prompt is gated, a second array follows: the virtual positions' attention weights
     * {@code (batch, n)}, float32 in [0, 1], which the model multiplies into its attention mask so that every layer
     * attends a gated prompt's positions with weight {@code g} (read from the embeddings): 0 hides them, 1 is the
     * plain prompt. Under a {@link RowRouting}, {@code n} is the longest routed prompt ({@link #promptLength}) and
     * each row gets its own adapter's tokens right-aligned against its real tokens, after zero padding that the
     * model masks out ({@link #promptRowLengths}); a base row gets padding only.
     */
    public static NDList prompt(ParameterStore parameterStore, SiteAttachments attachments, NDArray embeddings, boolean training) {
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return new NDList(embeddings);
        }
        long batch = embeddings.getShape().get(0);
        try (NDManager scope = Scopes.open(embeddings, List.of(), blocks(live), sharedParameters(live))) {
            NDList parts = new NDList();
            NDList weights = new NDList();
            boolean gated = live.stream().anyMatch(attachment -> attachment.gate().isPresent());
            // as at sublayer sites: modules and gates see float32, their tokens are cast to the embeddings' type differentiably
            NDArray embeddings32 = Casts.toType(embeddings, DataType.FLOAT32);
            Optional<RowRouting> routing = RowRouting.current();
            routing.ifPresent(current -> current.checkRows(embeddings, attachments.site().name()));
            int width = promptLength(attachments);
            NDArray routedTokens = null;
            NDArray routedWeights = null;
            for (Attachment attachment : live) {
                NDArray tokens;
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    tokens = broadcastBatch(((PromptModule) attachment.module()).virtualTokens(parameterStore, embeddings32, training), batch);
                }
                long length = tokens.getShape().get(1);
                NDArray weight = attachment.gate().isPresent()
                        ? Casts.toType(attachment.gate().get().value(parameterStore, embeddings32, training), DataType.FLOAT32).reshape(batch, 1)
                        : scope.ones(new Shape(batch, 1));
                if (routing.isEmpty()) {
                    parts.add(Casts.toType(tokens, embeddings.getDataType()));
                    weights.add(weight.mul(scope.ones(new Shape(1, length))));
                    continue;
                }
                if (length < width) {
                    tokens = scope.zeros(new Shape(batch, width - length, tokens.getShape().get(2))).concat(tokens, 1);
                }
                NDArray rows = routing.get().mask(attachment.adapterName(), 2);
                NDArray own = tokens.mul(rows.expandDims(-1));
                routedTokens = routedTokens == null ? own : routedTokens.add(own);
                NDArray ownWeight = weight.mul(rows);
                routedWeights = routedWeights == null ? ownWeight : routedWeights.add(ownWeight);
            }
            NDArray prompted;
            NDArray promptWeights;
            if (routing.isPresent()) {
                prompted = NDArrays.concat(new NDList(Casts.toType(routedTokens, embeddings.getDataType()), embeddings), 1);
                promptWeights = routedWeights.mul(scope.ones(new Shape(1, width)));
            }
            else {
                parts.add(embeddings);
                prompted = NDArrays.concat(parts, 1);
                promptWeights = weights.size() == 1 ? weights.get(0) : NDArrays.concat(weights, 1);
            }
            return gated ? new NDList(scope.ret(prompted), scope.ret(promptWeights)) : new NDList(scope.ret(prompted));
        }
    }

    /**
     * The additive attention bias of key weights {@code w} in [0, 1] (any shape), float32: {@code log w} where
     * {@code w > 0} (0 for a weight of 1) and the float32 minimum where {@code w = 0}. Adding {@code log w} to a key's
     * score multiplies its softmax numerator by {@code w}: how gated prefixes and prompts are attended.
     */
    public static NDArray attentionBias(NDArray weights) {
        NDArray weights32 = Casts.toType(weights, DataType.FLOAT32);
        NDArray hidden = weights32.lte(0f).toType(DataType.FLOAT32, false);
        return weights32.maximum(Float.MIN_NORMAL).log().add(Scalars.times(hidden, MASKED));
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
