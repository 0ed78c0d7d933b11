package dev.graft.runtime.compose;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
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
import java.util.List;

/** Composition of the modules at sublayer, attention and embedding sites. */
public final class SiteOps {
    private SiteOps() {}

    /**
     * {@code h + Σ c_i·delta_i(x_in, h)}, with {@code c_i} the module's scaling or its gate on {@code h}.
     */
    public static NDArray sublayer(ParameterStore parameterStore, SiteAttachments attachments, NDArray sublayerInput, NDArray sublayerOutput, boolean training) {
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return sublayerOutput;
        }
        try (NDManager scope = Scopes.open(sublayerOutput, List.of(sublayerInput), blocks(live), sharedParameters(live))) {
            // modules and gates see float32 (as at linear sites) and their terms are cast back where they are added,
            // differentiably: on a float16 base, DJL's toType would cut the adapter off from autograd
            NDArray input = Casts.toType(sublayerInput, DataType.FLOAT32);
            NDArray output = Casts.toType(sublayerOutput, DataType.FLOAT32);
            NDArray result = sublayerOutput;
            for (Attachment attachment : live) {
                SublayerModule module = (SublayerModule) attachment.module();
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    NDArray delta = module.delta(parameterStore, input, output, training);
                    NDArray scaled = attachment.gate().isPresent()
                            ? delta.mul(attachment.gate().get().value(parameterStore, output, training))
                            : Scalars.times(delta, module.scaling());
                    result = result.add(Casts.toType(scaled, result.getDataType()));
                }
            }
            return scope.ret(result);
        }
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
     * {@code attentionInput} {@code (batch, sequence, hidden)}.
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
            }
            NDArray key = keys.size() == 1 ? keys.get(0) : NDArrays.concat(keys, 2);
            NDArray value = values.size() == 1 ? values.get(0) : NDArrays.concat(values, 2);
            return new NDList(scope.ret(key), scope.ret(value));
        }
    }

    /**
     * The embeddings with the live prompt modules' virtual tokens prepended: {@code (batch, n + sequence, hidden)}.
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

    /** The total number of virtual tokens the live prompt modules add. */
    public static int promptLength(SiteAttachments attachments) {
        int length = 0;
        for (Attachment attachment : attachments.live()) {
            try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                length += ((PromptModule) attachment.module()).numVirtualTokens();
            }
        }
        return length;
    }

    private static NDArray broadcastBatch(NDArray array, long batch) {
        long[] shape = new long[array.getShape().dimension() + 1];
        shape[0] = batch;
        System.arraycopy(array.getShape().getShape(), 0, shape, 1, shape.length - 1);
        return array.expandDims(0).broadcast(new ai.djl.ndarray.types.Shape(shape));
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
