package dev.graft.runtime.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import dev.graft.runtime.model.TransformerModel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * An adapter's trainable copies of whole base modules, PEFT's {@code modules_to_save}: each named module (a linear,
 * an embedding, a layer norm) gets a float32 copy of every base tensor under it ({@code <module>.weight},
 * {@code <module>.bias}), trained in full while the original stays frozen. While the adapter is active, the model
 * reads the copy wherever it would read the original (see {@link SubstitutingParameterStore}).
 */
final class ModulesToSave extends AbstractBlock {
    private static final byte VERSION = 1;

    private final List<String> modules;
    /** The copies by Hugging Face key of the original ({@code encoder.layer.0.output.LayerNorm.weight}). */
    private final Map<String, Parameter> copies;
    /** The copies by the original base parameter they stand in for. */
    private final Map<Parameter, Parameter> substitutes;

    private ModulesToSave(List<String> modules, Map<String, Parameter> copies, Map<Parameter, Parameter> substitutes) {
        super(VERSION);
        this.modules = List.copyOf(modules);
        this.copies = Collections.unmodifiableMap(new LinkedHashMap<>(copies));
        this.substitutes = Collections.unmodifiableMap(substitutes);
        copies.values().forEach(this::addParameter);
    }

    /**
     * Copies the base tensors of each module in {@code modules}, trainable, in float32, into the base's manager.
     *
     * @throws IllegalArgumentException naming the module when a name matches no base module, with examples of names that do
     */
    static ModulesToSave copy(TransformerModel base, List<String> modules) {
        requireNonNull(modules, "modules is null");
        Map<NDArray, Parameter> parametersByArray = new IdentityHashMap<>();
        for (Pair<String, Parameter> pair : base.getParameters()) {
            if (pair.getValue().getArray() != null) {
                parametersByArray.put(pair.getValue().getArray(), pair.getValue());
            }
        }
        Map<String, NDArray> state = base.stateDict();
        Map<String, Parameter> copies = new LinkedHashMap<>();
        Map<Parameter, Parameter> substitutes = new IdentityHashMap<>();
        for (String module : modules) {
            List<String> keys = new ArrayList<>();
            for (String key : state.keySet()) {
                if (key.startsWith(module + ".") && key.indexOf('.', module.length() + 1) < 0) {
                    keys.add(key);
                }
            }
            if (keys.isEmpty()) {
                throw new IllegalArgumentException(format(
                        "modules_to_save names '%s', which is no module of this %s model with weights of its own; modules are named by their Hugging Face path, e.g. %s",
                        module, base.modelType(), examples(state.keySet())));
            }
            for (String key : keys) {
                NDArray original = state.get(key);
                Parameter parameter = parametersByArray.get(original);
                if (parameter == null) {
                    throw new IllegalStateException(format("base weight %s belongs to no parameter of the model", key));
                }
                Parameter copy = Parameter.builder().setName(key).setType(parameter.getType()).optRequiresGrad(true).build();
                NDArray duplicate = original.duplicate();
                NDArray values = duplicate.getDataType() == DataType.FLOAT32 ? duplicate : duplicate.toType(DataType.FLOAT32, false);
                values.attach(base.manager());
                copy.setArray(values);
                copies.put(key, copy);
                substitutes.put(parameter, copy);
            }
        }
        return new ModulesToSave(modules, copies, substitutes);
    }

    private static List<String> examples(Iterable<String> keys) {
        TreeSet<String> modules = new TreeSet<>();
        for (String key : keys) {
            String module = key.substring(0, key.lastIndexOf('.'));
            if (!module.contains(".1.") && !module.contains(".2.") && modules.size() < 6) {
                modules.add(module);
            }
        }
        return List.copyOf(modules);
    }

    /** The module names, as given. */
    List<String> modules() {
        return modules;
    }

    /** The copies by Hugging Face key of the original tensor. */
    Map<String, Parameter> copies() {
        return copies;
    }

    /** The copies by the base parameter each replaces. */
    Map<Parameter, Parameter> substitutes() {
        return substitutes;
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("modules_to_save copies are read by the base model in place of its own weights");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }

    /** Nothing to do: every copy is made from the base weights in {@link #copy}. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {}
}
