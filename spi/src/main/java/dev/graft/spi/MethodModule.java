package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;

import java.util.Map;

/**
 * A method's module at one site: a DJL {@link Block} with its own parameters. What it contributes is told by
 * the sub-interface it implements, so the runtime can compose several methods at one site, and gate them,
 * without knowing which they are:
 * <ul>
 *   <li>{@link AdditiveLinearModule}: an additive term to a linear site's output (LoRA, VeRA, Bone);</li>
 *   <li>{@link ScalingLinearModule}: a scaling of a linear site's input or output (IA³);</li>
 *   <li>{@link WeightTransformModule}: a transformation of the weight itself (Bone's BAT);</li>
 *   <li>{@link SublayerModule}: an additive term to a sublayer's output (bottleneck adapters);</li>
 *   <li>{@link PrefixModule}: virtual keys and values (prefix tuning);</li>
 *   <li>{@link PromptModule}: virtual input positions (prompt tuning).</li>
 * </ul>
 * The runtime never calls {@link Block#forward} on a module; it calls the sub-interface's methods.
 * A module that can merge into the base weight also implements {@link MergeableLinearModule}.
 *
 * <h2>The tensor contract</h2>
 * <ul>
 *   <li><b>Data types.</b> Adapter parameters are float32. The base model may be float16 or bfloat16, but a module
 *       never sees it: the runtime casts the site's input to float32 before calling {@code delta}/{@code scale}
 *       (so {@code x} is float32) and casts the module's result back to the site's type, in a way autograd sees
 *       through. Merges get float32 copies of the base weights (see {@link MergeableLinearModule}).</li>
 *   <li><b>Parameter values.</b> Read a parameter inside a forward pass with
 *       {@code parameterStore.getValue(parameter, x.getDevice(), training)}. The array returned belongs to the
 *       parameter store: never close it and never keep it past the call. Outside a forward pass (merges, saving)
 *       {@code parameter.getArray()} is the parameter's own array, equally not yours to close.</li>
 *   <li><b>What the runtime owns.</b> It initialises every parameter (on the model's manager, in float32, with the
 *       shape and initializer the module set; a module never initialises or replaces them), freezes the base, trains
 *       the adapter's parameters unless a method freezes one with {@code Parameter.freeze}, and applies gates under
 *       gated composition in place of {@link AdditiveLinearModule#scaling()}.</li>
 *   <li><b>Scoping.</b> Make every temporary in a sub-manager of the input's manager
 *       ({@code try (NDManager scope = x.getManager().newSubManager())}), {@code scope.tempAttachAll(x)} first, and
 *       hand back only the result with {@code scope.ret(result)}. Multiply by constants with {@link Scalars}, never
 *       with {@code NDArray.mul(Number)} (autograd would read freed memory).</li>
 * </ul>
 */
public interface MethodModule extends Block {
    /** The site this module is attached to. */
    Site site();

    /**
     * This module's tensors for the adapter checkpoint, keyed relative to the site, e.g. {@code lora_A.weight}
     * (the runtime prepends {@code base_model.model.<site name>.}). By default every parameter by its name.
     */
    default Map<String, NDArray> saveState(NDManager manager) {
        return CheckpointSupport.parameterValues(CheckpointSupport.parametersByName(this));
    }

    /**
     * Loads what {@link #saveState} saved, keyed the same way.
     *
     * @throws IllegalArgumentException naming the key, the expected and the found shape on a mismatch or a missing key
     */
    default void loadState(Map<String, NDArray> state) {
        CheckpointSupport.loadParameterValues(site().name(), CheckpointSupport.parametersByName(this), state);
    }
}
