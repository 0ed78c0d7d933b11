package dev.graft.runtime.format;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives each test method that asks for an {@link NDManager} parameter a fresh PyTorch manager, closed
 * when the test ends.
 */
final class PyTorchManagers implements ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PyTorchManagers.class);

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == NDManager.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return extensionContext.getStore(NAMESPACE)
                .getOrComputeIfAbsent(ClosingManager.class, key -> new ClosingManager(NDManager.newBaseManager("PyTorch")), ClosingManager.class)
                .manager();
    }

    /** Closes the manager when JUnit closes the test's store. */
    private record ClosingManager(NDManager manager) implements ExtensionContext.Store.CloseableResource {
        @Override
        public void close() {
            manager.close();
        }
    }
}
