package dev.graft.runtime.loader;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;

import java.nio.file.Path;

/**
 * A model named as users name it: {@code minilm} for the bundled all-MiniLM-L6-v2, its Hugging Face id (as PEFT
 * writes it in {@code base_model_name_or_path}), or a Hugging Face model folder.
 */
public final class Models {
    /** The name that selects the bundled all-MiniLM-L6-v2. */
    public static final String MINILM = "minilm";
    /** The Hugging Face id of all-MiniLM-L6-v2, written as an adapter's {@code base_model_name_or_path}. */
    public static final String MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2";

    private Models() {}

    /** Whether {@code model} names the bundled all-MiniLM-L6-v2. */
    public static boolean isMiniLm(String model) {
        return MINILM.equals(model) || MINILM_HUB_ID.equals(model);
    }

    /**
     * Loads {@code model} (see the class comment) into {@code manager}, base weights in {@code precision}.
     *
     * @throws IllegalArgumentException for a precision other than float32 with the bundled model
     * @throws ModelLoadException for a folder that does not hold a model Graft can load
     */
    public static LoadedModel load(String model, NDManager manager, WeightPrecision precision) {
        requireNonNull(model, "model is null");
        if (isMiniLm(model)) {
            if (precision != WeightPrecision.FLOAT32) {
                throw new IllegalArgumentException(format("the bundled minilm loads in float32 only; precision %s applies to model folders", precision));
            }
            return MiniLm.load(manager);
        }
        return ModelLoader.load(Path.of(model), manager, precision);
    }

    /** What an adapter records as {@code base_model_name_or_path} for {@code model}: the Hugging Face id for minilm. */
    public static String nameOrPath(String model) {
        return isMiniLm(model) ? MINILM_HUB_ID : model;
    }
}
