package com.example.graft.diagonal;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.auto.service.AutoService;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.OptionSpec;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The diagonal method, a small but complete Graft method plugin to copy: every targeted linear layer
 * {@code y = x·Wᵀ + b} gets a trainable vector {@code d} of length {@code k = min(in, out)} and computes
 * {@code y = x·(W + diag(d))ᵀ + b}, where {@code diag(d)} is the rectangular {@code (out, in)} matrix with {@code d} on
 * its main diagonal. With {@code d = 0} (the default start) the model is unchanged; the update merges into {@code W}.
 *
 * <p>This class is the plugin's entry point: Graft finds it through {@link java.util.ServiceLoader}, registered by
 * {@link AutoService}. It holds no tensors; {@link #create} makes one adapter per model.
 */
@AutoService(PeftMethod.class)
public final class DiagonalMethod implements PeftMethod {
    /** The method id: the {@code method} of a recipe and the plugin folder name. */
    public static final String ID = "diagonal";
    /** The one option: the standard deviation of {@code d}'s normal initialization, 0 for the identity start. */
    public static final String INIT_STD = "init_std";

    private static final MethodDescriptor DESCRIPTOR = new MethodDescriptor(
            ID,
            "0.1.0",
            SpiVersion.CURRENT,
            "DIAGONAL",
            Set.of(SiteKind.LINEAR),
            true,
            OptionSchema.of(OptionSpec.number(INIT_STD, 0.0,
                    "Standard deviation of the normal initialization of d; 0 (the default) starts at d = 0, which leaves the model unchanged.")),
            Map.of(
                    "llama", List.of("q_proj", "v_proj"),
                    "bert", List.of("query", "value")),
            "Learned diagonal: W + diag(d) on linear layers, min(in, out) parameters per layer (template example)");

    /** Creates the provider. Graft calls this once at start-up; it must stay cheap and must not touch tensors. */
    public DiagonalMethod() {}

    @Override
    public MethodDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /**
     * Creates a diagonal adapter.
     *
     * @throws InvalidOptionsException if {@code init_std} is negative
     */
    @Override
    public MethodInstance create(MethodOptions options, ModelContext model) {
        requireNonNull(options, "options is null");
        requireNonNull(model, "model is null");
        double initStd = options.getDouble(INIT_STD);
        if (!(initStd >= 0)) {
            throw new InvalidOptionsException(format(
                    "Method '%s': option '%s' is %s, but must be a number >= 0 (0 starts at d = 0, which leaves the model unchanged). Fix the value.",
                    ID, INIT_STD, initStd));
        }
        return new DiagonalInstance((float) initStd);
    }
}
