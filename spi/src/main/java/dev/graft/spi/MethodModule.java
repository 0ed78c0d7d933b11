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
