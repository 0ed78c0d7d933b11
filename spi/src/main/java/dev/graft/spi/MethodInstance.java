package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;

import java.util.List;
import java.util.Map;

/**
 * One adapter of a method on one model: it makes a {@link MethodModule} for every site the runtime selects,
 * may own parameters shared by all of them (VeRA's projections, prefix tuning's prompt encoder), knows its
 * parameter-count formula and may react to training events.
 */
public interface MethodInstance {
    /**
     * Whether this adapter attaches to {@code site}. The runtime offers only sites of the descriptor's site kinds and
     * applies PEFT targeting rules to linear sites first; override this only for a real extra filter (a Pfeiffer
     * adapter takes only feed-forward sublayers).
     */
    default boolean accepts(Site site) {
        return true;
    }

    /**
     * Called once with every site this adapter will attach to (those it {@link #accepts}), in model order,
     * before {@link #sharedParameters()} and {@link #attach}. VeRA sizes its shared projections to the largest
     * target here. Does nothing by default.
     */
    default void prepare(List<Site> sites) {}

    /**
     * Makes the module for {@code site}. Its parameters must have their shapes and initializers set; the
     * runtime initialises them on the model's manager (in float32) with the module's own initializers and never
     * replaces them.
     */
    MethodModule attach(Site site);

    /**
     * Parameters shared by every module of this adapter, keyed by their full checkpoint key (for example
     * {@code base_model.vera_A}). Trainable unless frozen with {@link Parameter#freeze}. The runtime
     * initialises them before calling {@link #attach}.
     */
    default Map<String, Parameter> sharedParameters() {
        return Map.of();
    }

    /**
     * The number of trainable parameters this adapter has once attached to {@code sites}, by the method's
     * formula (e.g. {@code r·(in+out)} per linear site for LoRA). The conformance kit checks it against the count.
     */
    long trainableParameterCount(List<Site> sites);

    /**
     * The tensors this adapter saves beside the module tensors, keyed by full checkpoint key. By default the
     * shared parameters; prefix tuning overrides it to save its flattened prompt.
     */
    default Map<String, NDArray> saveSharedState(NDManager manager) {
        return CheckpointSupport.parameterValues(sharedParameters());
    }

    /**
     * Loads what {@link #saveSharedState} saved.
     *
     * @throws IllegalArgumentException naming the key, the expected and the found shape on a mismatch
     */
    default void loadSharedState(Map<String, NDArray> state) {
        CheckpointSupport.loadParameterValues("shared state", sharedParameters(), state);
    }

    /**
     * The options (as raw values, schema keys) of an adapter of the same method whose low-rank modules have rank
     * {@code ranksBySite.get(site name)} at each site and scaling 1, keeping this adapter's other settings
     * (dropout, say). The runtime uses it to create the result of a weighted combination. Empty (the default)
     * when the method cannot express it.
     */
    default java.util.Optional<Map<String, Object>> optionsForRanks(Map<String, Integer> ranksBySite) {
        return java.util.Optional.empty();
    }

    /**
     * The options (raw values, schema keys) of the plain adapter that the {@link BaseDerivedLinearModule#saveConvertedState}
     * tensors of this adapter's modules belong to, given this adapter's validated options {@code options} as raw
     * values; for LoRA PEFT's conversion: {@code r} and the rank pattern doubled, {@code lora_alpha} adjusted to keep
     * the scaling, {@code init_lora_weights: true}. Empty (the default) when the method cannot convert.
     *
     * @throws InvalidOptionsException when these options cannot be converted (the message says why)
     */
    default java.util.Optional<Map<String, Object>> optionsForConvertedState(Map<String, Object> options) {
        return java.util.Optional.empty();
    }

    /**
     * Reacts to a training event. PeriodicLoRA offloads into the base weights here.
     *
     * @param event what happened
     * @param context access to base weights and optimizer state
     */
    default void onEvent(TrainingEvent event, TrainingContext context) {}
}
