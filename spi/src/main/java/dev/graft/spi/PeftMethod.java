package dev.graft.spi;

/**
 * A parameter-efficient fine-tuning method: the service a plugin provides.
 *
 * <p>Implementations are discovered with {@link java.util.ServiceLoader}; register them with
 * {@code @AutoService(PeftMethod.class)}, never with a hand-written services file. An implementation needs a
 * public no-argument constructor and must not touch tensors there.
 *
 * <p>The runtime validates options with {@code descriptor().options()} before calling {@link #create}.
 */
public interface PeftMethod {
    /** The method's descriptor. Called once at load; must be cheap and must not fail. */
    MethodDescriptor descriptor();

    /**
     * Creates one adapter of this method on one model. The instance then makes one module per site the
     * runtime selects.
     *
     * @param options options validated against {@code descriptor().options()}
     * @param model what the method may know of the model
     * @throws InvalidOptionsException if the values are individually valid but wrong together or for this model
     */
    MethodInstance create(MethodOptions options, ModelContext model);
}
