package dev.graft.runtime.peft;

import static java.util.Objects.requireNonNull;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;

import java.util.Map;

/**
 * A parameter store that hands out an active adapter's {@code modules_to_save} copy wherever the base model asks
 * for the original parameter, and every other parameter as {@code delegate} does. The copy is read through
 * {@code delegate}, so training sees it as the trainable parameter it is. A copy of a base parameter in another
 * data type (a float16 base) is cast into {@code scope}, which the forward pass closes at its end.
 */
final class SubstitutingParameterStore extends ParameterStore {
    private final ParameterStore delegate;
    private final Map<Parameter, Parameter> substitutes;
    private final NDManager scope;

    SubstitutingParameterStore(ParameterStore delegate, Map<Parameter, Parameter> substitutes, NDManager scope) {
        super(requireNonNull(scope, "scope is null"), false);
        this.delegate = requireNonNull(delegate, "delegate is null");
        this.substitutes = requireNonNull(substitutes, "substitutes is null");
        this.scope = scope;
    }

    @Override
    public NDArray getValue(Parameter parameter, Device device, boolean training) {
        Parameter substitute = substitutes.get(parameter);
        if (substitute == null) {
            return delegate.getValue(parameter, device, training);
        }
        NDArray copy = delegate.getValue(substitute, device, training);
        NDArray original = parameter.getArray();
        if (original != null && original.getDataType() != copy.getDataType()) {
            NDArray cast = copy.toType(original.getDataType(), true);
            cast.attach(scope);
            return cast;
        }
        return copy;
    }

    @Override
    public NDManager getManager() {
        return delegate.getManager();
    }
}
