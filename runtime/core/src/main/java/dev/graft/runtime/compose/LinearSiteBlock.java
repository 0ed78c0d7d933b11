package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.spi.AdditiveLinearModule;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.ScalingLinearModule;
import dev.graft.spi.WeightTransformModule;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A frozen linear layer {@code y = x·Wᵀ + b} that is also a site: the modules attached here are composed as
 * <pre>
 *   y = s_out ⊙ ((s_in ⊙ x)·(W + ΔW)ᵀ + b) + Σ c_i·delta_i(x)
 * </pre>
 * where {@code s_in}/{@code s_out} are the products of the input/output scalings, {@code ΔW} the sum of weight
 * transforms and {@code c_i} each additive module's scaling. A weight transform whose
 * {@link WeightTransformModule#deltaInput} is not {@code x} itself (DoRA's dropout while training) adds
 * {@code x̃·ΔWᵀ} on its own input {@code x̃} instead of joining {@code W + ΔW}. Under gated composition, a gate {@code g} replaces
 * {@code c_i}, scales {@code ΔW}'s contribution, and turns a scale {@code l} into {@code 1 + g·(l − 1)}.
 * Under an {@link Average} block, each adapter's weight {@code w} multiplies its term and its {@code ΔW}, and the
 * scales of one side combine as {@code 1 + Σ wᵢ(lᵢ − 1)} ({@link Attachment#blockWeight()}).
 *
 * <p><b>Precision.</b> Modules and gates compute in float32, the type of their parameters, whatever the base's
 * type: on a half-precision base (float16 weights and activations) they are handed {@code x} (and, for weight
 * transforms, {@code W}) as float32, and each contribution — a delta times its scaling or gate, a scale, a weight
 * delta, a gate — is cast to the base's type where it is composed, so the layer returns the base's type and the
 * next layer never sees mixed types. The casts ({@link Casts}) keep the autograd graph whole, so adapters train in
 * float32 on a float16 base. On a float32 base every cast is a no-op. Merges compute in float32 too.
 */
public final class LinearSiteBlock extends AbstractBlock {
    private static final byte VERSION = 1;
    /** The type adapters compute in: their parameters and gates are float32, whatever the base's type. */
    private static final DataType ADAPTER_TYPE = DataType.FLOAT32;

    private final LinearSite site;
    private final Parameter weight;
    private final Parameter bias;
    private final SiteAttachments attachments;

    public LinearSiteBlock(LinearSite site) {
        super(VERSION);
        this.site = requireNonNull(site, "site is null");
        this.weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT).optRequiresGrad(false).build());
        this.bias = site.hasBias()
                ? addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS).optRequiresGrad(false).build())
                : null;
        this.attachments = new SiteAttachments(site);
    }

    public LinearSite site() {
        return site;
    }

    public SiteAttachments attachments() {
        return attachments;
    }

    /** The frozen weight parameter {@code (out, in)}. */
    public Parameter weightParameter() {
        return weight;
    }

    /** The frozen bias parameter, or {@code null}. */
    public Parameter biasParameter() {
        return bias;
    }

    /** Sets the base weight and bias; shapes must match the site. */
    public void setWeights(NDArray weightArray, NDArray biasArray) {
        Shape expected = new Shape(site.outFeatures(), site.inFeatures());
        if (!weightArray.getShape().equals(expected)) {
            throw new IllegalArgumentException(format("%s.weight: expected shape %s, found %s", site.name(), expected, weightArray.getShape()));
        }
        weight.setArray(weightArray);
        weightArray.setRequiresGradient(false);
        if (bias != null) {
            requireNonNull(biasArray, () -> site.name() + ".bias is required");
            if (!biasArray.getShape().equals(new Shape(site.outFeatures()))) {
                throw new IllegalArgumentException(format("%s.bias: expected shape (%d), found %s", site.name(), site.outFeatures(), biasArray.getShape()));
            }
            bias.setArray(biasArray);
            biasArray.setRequiresGradient(false);
        }
    }

    /** The current base weights (the parameters' own arrays; do not close them). */
    public LinearWeights weights() {
        return new LinearWeights(weight.getArray(), bias == null ? null : bias.getArray());
    }

    /**
     * Copies new values into the base weight and bias in place, converting to their data types. The base stays
     * frozen and keeps its identity (optimizers and views are unaffected).
     */
    public void replaceWeights(LinearWeights replacement) {
        copyInto(weight.getArray(), replacement.weight(), "weight");
        if (bias != null && replacement.hasBias()) {
            copyInto(bias.getArray(), replacement.bias(), "bias");
        }
    }

    private void copyInto(NDArray target, NDArray source, String what) {
        if (!target.getShape().equals(source.getShape())) {
            throw new IllegalArgumentException(format("%s.%s: cannot replace shape %s with %s", site.name(), what, target.getShape(), source.getShape()));
        }
        ArrayValues.copy(target, source);
    }

    /**
     * Folds the attachment of {@code adapterName} into the base weights (computed in float32).
     *
     * @throws IllegalStateException if the module cannot merge or is gated
     */
    public void merge(String adapterName) {
        Attachment attachment = require(adapterName);
        if (attachment.isMerged()) {
            return;
        }
        MergeableLinearModule module = mergeable(attachment);
        applyInFloat32(attachment, module::merge);
        attachment.setMerged(true);
    }

    /** Takes the attachment of {@code adapterName} back out of the base weights. */
    public void unmerge(String adapterName) {
        Attachment attachment = require(adapterName);
        if (!attachment.isMerged()) {
            return;
        }
        MergeableLinearModule module = mergeable(attachment);
        applyInFloat32(attachment, module::unmerge);
        attachment.setMerged(false);
    }

    /**
     * Runs a merge or unmerge on float32 copies of the base weights inside a scope holding the weights, the
     * module's and its adapter's shared parameters, then copies the result back: nothing it makes outlives it.
     */
    private void applyInFloat32(Attachment attachment, java.util.function.UnaryOperator<LinearWeights> operation) {
        NDArray current = weight.getArray();
        List<NDArray> others = bias == null ? List.of() : List.of(bias.getArray());
        try (NDManager scope = Scopes.open(current, others, List.of(attachment.module()), attachment.sharedParameters());
                ThreadContextClassLoader ignored = attachment.enterPlugin()) {
            NDArray weight32 = current.toType(DataType.FLOAT32, true);
            NDArray bias32 = bias == null ? null : bias.getArray().toType(DataType.FLOAT32, true);
            replaceWeights(operation.apply(new LinearWeights(weight32, bias32)));
        }
    }

    /**
     * Hands {@code module} float32 copies of the base weights once, when it is attached
     * ({@link WeightTransformModule#initializeFromBase}), in a scope that frees the copies afterwards.
     */
    public void initializeFromBase(WeightTransformModule module) {
        requireNonNull(module, "module is null");
        NDArray current = weight.getArray();
        List<NDArray> others = bias == null ? List.of() : List.of(bias.getArray());
        try (NDManager scope = Scopes.open(current, others, List.of(module))) {
            NDArray weight32 = current.toType(DataType.FLOAT32, true);
            NDArray bias32 = bias == null ? null : bias.getArray().toType(DataType.FLOAT32, true);
            module.initializeFromBase(new LinearWeights(weight32, bias32));
        }
    }

    private Attachment require(String adapterName) {
        return attachments.find(adapterName).orElseThrow(() -> new IllegalArgumentException(
                format("adapter '%s' is not attached at %s", adapterName, site.name())));
    }

    private MergeableLinearModule mergeable(Attachment attachment) {
        if (attachment.gate().isPresent()) {
            throw new IllegalStateException(format(
                    "adapter '%s' at %s is gated: a gate scales each example differently, so it cannot be merged into the weight. "
                            + "Run it unmerged, or attach it with composition 'sum'.", attachment.adapterName(), site.name()));
        }
        if (!(attachment.module() instanceof MergeableLinearModule)) {
            throw new IllegalStateException(format("adapter '%s' (method %s) at %s cannot be merged: the method does not support merging",
                    attachment.adapterName(), attachment.methodId(), site.name()));
        }
        return (MergeableLinearModule) attachment.module();
    }

    /** Forward through the frozen layer and every live attachment. */
    public NDArray forward(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray w = parameterStore.getValue(weight, x.getDevice(), training);
        NDArray b = bias == null ? null : parameterStore.getValue(bias, x.getDevice(), training);
        List<Attachment> live = attachments.live();
        if (live.isEmpty()) {
            return linear(x, w, b);
        }
        try (NDManager scope = Scopes.open(x, List.of(w), SiteOps.blocks(live), SiteOps.sharedParameters(live))) {
            if (b != null) {
                scope.tempAttachAll(b);
            }
            return scope.ret(compose(parameterStore, x, w, b, live, training));
        }
    }

    /**
     * {@code x·wᵀ + b}. With a bias and more than two axes, {@code x} is flattened to two first: libtorch's C++
     * {@code linear} (which DJL calls) fuses the bias into the product ({@code addmm}) only for two-dimensional
     * input, and otherwise adds it in a separate pass over the output.
     */
    private static NDArray linear(NDArray x, NDArray w, NDArray b) {
        if (b == null) {
            return Linear.linear(x, w).singletonOrThrow();
        }
        Shape shape = x.getShape();
        if (shape.dimension() <= 2) {
            return Linear.linear(x, w, b).singletonOrThrow();
        }
        long in = shape.getLastDimension();
        NDArray flat = Linear.linear(x.reshape(shape.size() / in, in), w, b).singletonOrThrow();
        return flat.reshape(shape.slice(0, shape.dimension() - 1).add(w.getShape().get(0)));
    }

    private NDArray compose(ParameterStore parameterStore, NDArray x, NDArray w, NDArray b, List<Attachment> live, boolean training) {
        NDArray adapterInput = Casts.toType(x, ADAPTER_TYPE);
        List<NDArray> gates = new ArrayList<>();
        for (Attachment attachment : live) {
            gates.add(attachment.gate().map(gate -> gate.value(parameterStore, adapterInput, training)).orElse(null));
        }
        List<NDArray> masks = rowMasks(live, x);
        NDArray input = x;
        // under an average block the scales of one side combine as 1 + Σ wᵢ(lᵢ − 1), not as a product
        NDArray inputDeviation = null;
        NDArray outputDeviation = null;
        for (int index = 0; index < live.size(); index++) {
            Attachment attachment = live.get(index);
            if (attachment.module() instanceof ScalingLinearModule) {
                ScalingLinearModule scaling = (ScalingLinearModule) attachment.module();
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    if (scaling.side() == ScalingLinearModule.Side.INPUT) {
                        NDArray scale = gatedScale(scaling.scale(parameterStore, adapterInput, training), gates.get(index));
                        if (attachment.isAveraged()) {
                            inputDeviation = addDeviation(inputDeviation, attachment.weightedDeviation(scale));
                        }
                        else {
                            input = input.mul(Casts.toType(routedScale(scale, masks.get(index)), x.getDataType()));
                        }
                    }
                }
            }
        }
        if (inputDeviation != null) {
            input = input.mul(Casts.toType(inputDeviation.add(1f), x.getDataType()));
        }
        NDArray effectiveWeight = w;
        NDArray adapterWeight = null;
        // weight deltas applied apart from the base weight: (input of ΔW, ΔW, factor or null), three per delta
        List<NDArray> separateWeightDeltas = new ArrayList<>();
        for (int index = 0; index < live.size(); index++) {
            Attachment attachment = live.get(index);
            if (attachment.module() instanceof WeightTransformModule) {
                WeightTransformModule transform = (WeightTransformModule) attachment.module();
                if (adapterWeight == null) {
                    adapterWeight = Casts.toType(w, ADAPTER_TYPE);
                }
                NDArray delta;
                NDArray deltaInput;
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    delta = Casts.toType(attachment.weighted(transform.weightDelta(parameterStore, adapterWeight, training)), w.getDataType());
                    deltaInput = transform.deltaInput(input, training);
                }
                NDArray gate = gates.get(index);
                NDArray mask = masks.get(index);
                if (gate == null && mask == null && deltaInput == input) {
                    effectiveWeight = effectiveWeight.add(delta);
                }
                else {
                    // per example (x·ΔWᵀ with the gate, the row mask, or both) or on the module's own input (DoRA's dropout)
                    separateWeightDeltas.add(Casts.toType(deltaInput, w.getDataType()));
                    separateWeightDeltas.add(delta);
                    separateWeightDeltas.add(gate == null ? mask : mask == null ? gate : gate.mul(mask));
                }
            }
        }
        NDArray y = linear(input, effectiveWeight, b);
        DataType outputType = y.getDataType();
        for (int index = 0; index < separateWeightDeltas.size(); index += 3) {
            NDArray term = Linear.linear(separateWeightDeltas.get(index), separateWeightDeltas.get(index + 1)).singletonOrThrow();
            NDArray factor = separateWeightDeltas.get(index + 2);
            y = y.add(factor == null ? term : term.mul(Casts.toType(factor, outputType)));
        }
        for (int index = 0; index < live.size(); index++) {
            Attachment attachment = live.get(index);
            if (attachment.module() instanceof ScalingLinearModule) {
                ScalingLinearModule scaling = (ScalingLinearModule) attachment.module();
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    if (scaling.side() == ScalingLinearModule.Side.OUTPUT) {
                        NDArray scale = gatedScale(scaling.scale(parameterStore, adapterInput, training), gates.get(index));
                        if (attachment.isAveraged()) {
                            outputDeviation = addDeviation(outputDeviation, attachment.weightedDeviation(scale));
                        }
                        else {
                            y = y.mul(Casts.toType(routedScale(scale, masks.get(index)), outputType));
                        }
                    }
                }
            }
        }
        if (outputDeviation != null) {
            y = y.mul(Casts.toType(outputDeviation.add(1f), outputType));
        }
        for (int index = 0; index < live.size(); index++) {
            Attachment attachment = live.get(index);
            if (attachment.module() instanceof AdditiveLinearModule) {
                AdditiveLinearModule additive = (AdditiveLinearModule) attachment.module();
                NDArray gate = gates.get(index);
                try (ThreadContextClassLoader ignored = attachment.enterPlugin()) {
                    NDArray mask = masks.get(index);
                    if (gate == null && mask == null && outputType == ADAPTER_TYPE) {
                        // the module adds its term into the output itself (a low-rank module in one matrix call)
                        y = additive.addScaledDelta(parameterStore, adapterInput, training, additive.scaling() * attachment.blockWeight(), y);
                        continue;
                    }
                    // the module applies its scaling or gate where it is cheapest (a low-rank module on its rank-r hidden state)
                    NDArray term = gate == null
                            ? additive.scaledDelta(parameterStore, adapterInput, training, additive.scaling() * attachment.blockWeight())
                            : attachment.weighted(additive.gatedDelta(parameterStore, adapterInput, training, gate));
                    y = y.add(Casts.toType(mask == null ? term : term.mul(mask), outputType));
                }
            }
        }
        return y;
    }

    private static NDArray addDeviation(NDArray sum, NDArray deviation) {
        return sum == null ? deviation : sum.add(deviation);
    }

    private static NDArray gatedScale(NDArray scale, NDArray gate) {
        return gate == null ? scale : scale.sub(1f).mul(gate).add(1f);
    }

    /** A scale under a row routing: {@code s} on the adapter's rows, 1 on the others. */
    private static NDArray routedScale(NDArray scale, NDArray mask) {
        return mask == null ? scale : gatedScale(scale, mask);
    }

    /**
     * The row mask of each attachment's adapter under a {@link RowRouting} ({@code (batch, 1, ..., 1)}, float32),
     * or {@code null}s when the forward is not routed.
     */
    private List<NDArray> rowMasks(List<Attachment> live, NDArray x) {
        List<NDArray> masks = new ArrayList<>();
        Optional<RowRouting> routing = RowRouting.current();
        routing.ifPresent(current -> current.checkRows(x, site.name()));
        for (Attachment attachment : live) {
            masks.add(routing.map(current -> current.mask(attachment.adapterName(), x.getShape().dimension())).orElse(null));
        }
        return masks;
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape input = inputShapes[0];
        return new Shape[] {input.slice(0, input.dimension() - 1).add(site.outFeatures())};
    }
}
