package com.example.graft.diagonal;

import com.google.auto.service.AutoService;
import dev.graft.spi.LinearMethod;
import dev.graft.spi.LinearSite;
import dev.graft.spi.Option;
import dev.graft.spi.PeftMethod;

import java.util.List;
import java.util.Map;

/**
 * The diagonal method, a small but complete Graft method plugin to copy: every targeted linear layer
 * {@code y = x·Wᵀ + b} gets a trainable vector {@code d} of length {@code k = min(in, out)} and computes
 * {@code y = x·(W + diag(d))ᵀ + b}, where {@code diag(d)} is the rectangular {@code (out, in)} matrix with {@code d} on
 * its main diagonal. With {@code d = 0} (the default start) the model is unchanged; the update merges into {@code W}.
 *
 * <p>This class is the plugin's entry point: Graft finds it through {@link java.util.ServiceLoader}, registered by
 * {@link AutoService}. It is a descriptor and a factory: it holds no tensors.
 */
@AutoService(PeftMethod.class)
public final class DiagonalMethod extends LinearMethod<DiagonalMethod.Options> {
    /** The method id: the {@code method} of a recipe and the plugin folder name. */
    public static final String ID = "diagonal";

    /**
     * The options, each declared once: the SPI derives the schema, validates values and builds this record.
     *
     * @param initStd the standard deviation of {@code d}'s normal initialization, 0 for the identity start
     */
    public record Options(
            @Option(name = "init_std", defaultValue = "0.0", minimum = 0,
                    description = "Standard deviation of the normal initialization of d; 0 (the default) starts at d = 0, which leaves the model unchanged.")
            double initStd) {}

    /** Creates the provider. Graft calls this once at start-up; it must stay cheap and must not touch tensors. */
    public DiagonalMethod() {
        super(Options.class, describe()
                .setId(ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("DIAGONAL")
                .setModuleType(DiagonalModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value")))
                .setDescription("Learned diagonal: W + diag(d) on linear layers, min(in, out) parameters per layer (template example)"));
    }

    @Override
    protected DiagonalModule module(Options options, LinearSite site) {
        return new DiagonalModule(site, (float) options.initStd());
    }

    /** {@code min(in, out)} per site. */
    @Override
    protected long parameterCount(Options options, LinearSite site) {
        return DiagonalModule.diagonalLength(site);
    }
}
