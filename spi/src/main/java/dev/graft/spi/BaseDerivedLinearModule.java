package dev.graft.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.Map;

/**
 * A linear-site module whose start is derived from the site's base weight, as PEFT's PiSSA and OLoRA
 * initialisations are: PEFT splits {@code W} into the adapter's {@code s·B₀·A₀} and a residual {@code W − s·B₀·A₀}
 * it writes into the base. Graft never rewrites the base for this: the module keeps {@code B₀} and {@code A₀} frozen
 * and contributes {@code s·(B·A − B₀·A₀)}, which is PEFT's model on the residual base exactly (the output is
 * unchanged at the start, bit for bit), while deactivating or deleting the adapter gives back the original model
 * and the base stays bit-identical through training.
 *
 * <p>The runtime calls {@link #initializeFromBase} once, after it has initialised the module's parameters and before
 * anything reads them. A module that saves the way PEFT does by default (the trained factors, with the config that
 * recomputes {@code B₀·A₀} from the original base on load) keeps the default {@link #saveState}; the runtime saves
 * {@link #saveConvertedState} instead where the user asks for PEFT's conversion
 * ({@code path_initial_model_for_weight_conversion}) to a plain adapter that needs no initialisation from the base.
 */
public interface BaseDerivedLinearModule extends MethodModule {
    /** Whether this module's start is derived from the base weight (false: {@link #initializeFromBase} is not called). */
    boolean derivesFromBase();

    /**
     * Sets the module's start from the site's weights: copies values into its own parameters (never replacing them)
     * and keeps what it needs of the base. {@code base} holds float32 copies made for this call, inside a memory
     * scope the runtime closes afterwards: copy what you keep onto your parameters' manager.
     *
     * @throws IllegalArgumentException if the module cannot be derived from this weight (its rank exceeds the weight's)
     */
    void initializeFromBase(LinearWeights base);

    /**
     * The tensors of a plain adapter of the same method, keyed like {@link #saveState}, that on the original base gives
     * what this module gives now (PEFT's {@code subtract_mutated_init}); the options that go with them are
     * {@link MethodInstance#optionsForConvertedState}. The arrays are new, in {@code manager}, or the module's own.
     */
    Map<String, NDArray> saveConvertedState(NDManager manager);
}
