package dev.graft.plugin.vera;

import static java.lang.String.format;
import static dev.graft.spi.LinearModuleBlock.requireLinear;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.Initializer;
import dev.graft.spi.CheckpointSupport;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.Site;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One VeRA adapter on one model. {@link #prepare} sizes the shared frozen projections to the largest target
 * ({@code vera_A (r × max_in)}, {@code vera_B (max_out × r)}, drawn from {@code projection_prng_key}, see
 * {@link VeraProjections}); {@link #attach} gives each linear site a {@link VeraModule} reading slices of them.
 * The projections are the adapter's {@link #sharedParameters()}, keyed {@code base_model.vera_A} and
 * {@code base_model.vera_B} as in PEFT, and saved only with {@code save_projection: true}.
 */
public final class VeraInstance implements MethodInstance {
    /** The checkpoint key of the shared down projection. */
    public static final String SHARED_A_KEY = "base_model.vera_A";
    /** The checkpoint key of the shared up projection. */
    public static final String SHARED_B_KEY = "base_model.vera_B";

    private final VeraConfiguration configuration;
    private Map<String, Parameter> shared;

    /** An adapter with validated {@code configuration}; call {@link #prepare} before anything else. */
    public VeraInstance(VeraConfiguration configuration) {
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    /**
     * Makes the shared projections, sized to the largest input and output width among {@code sites}.
     *
     * @throws IllegalStateException if called twice
     */
    @Override
    public void prepare(List<Site> sites) {
        requireNonNull(sites, "sites is null");
        if (shared != null) {
            throw new IllegalStateException("VeRA adapter is already prepared: its shared projections exist");
        }
        if (sites.isEmpty()) {
            throw new IllegalArgumentException("VeRA needs at least one linear site to size its shared projections");
        }
        int maxIn = 0;
        int maxOut = 0;
        for (Site site : sites) {
            LinearSite linear = requireLinear(site, VeraConfiguration.METHOD_ID);
            maxIn = Math.max(maxIn, linear.inFeatures());
            maxOut = Math.max(maxOut, linear.outFeatures());
        }
        VeraProjections projections = VeraProjections.draw(configuration.projectionPrngKey(), configuration.rank(), maxIn, maxOut);
        Map<String, Parameter> parameters = new LinkedHashMap<>();
        parameters.put(SHARED_A_KEY, frozen("vera_A", projections.shapeA(), projections.initializerA()));
        parameters.put(SHARED_B_KEY, frozen("vera_B", projections.shapeB(), projections.initializerB()));
        shared = Collections.unmodifiableMap(parameters);
    }

    /** {@code base_model.vera_A} and {@code base_model.vera_B}, frozen. */
    @Override
    public Map<String, Parameter> sharedParameters() {
        return prepared();
    }

    @Override
    public MethodModule attach(Site site) {
        Map<String, Parameter> parameters = prepared();
        return VeraModule.builder(requireLinear(site, VeraConfiguration.METHOD_ID))
                .setProjections(parameters.get(SHARED_A_KEY), parameters.get(SHARED_B_KEY))
                .optDropout((float) configuration.dropout())
                .optInitialScale((float) configuration.initialScale())
                .optInitWeights(configuration.initWeights())
                .build();
    }

    /** {@code out + r} per linear site: the projections are frozen. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : sites) {
            count += requireLinear(site, VeraConfiguration.METHOD_ID).outFeatures() + configuration.rank();
        }
        return count;
    }

    /** The projections with {@code save_projection: true}; nothing otherwise (they are regenerated from the key). */
    @Override
    public Map<String, NDArray> saveSharedState(NDManager manager) {
        return configuration.saveProjection() ? CheckpointSupport.parameterValues(prepared()) : Map.of();
    }

    /**
     * Loads saved projections with {@code save_projection: true}. With {@code save_projection: false} the state
     * must be empty: the projections come from {@code projection_prng_key}.
     */
    @Override
    public void loadSharedState(Map<String, NDArray> state) {
        requireNonNull(state, "state is null");
        if (configuration.saveProjection()) {
            CheckpointSupport.loadParameterValues("VeRA shared projections", prepared(), state);
        }
        else if (!state.isEmpty()) {
            throw new IllegalArgumentException(format(
                    "VeRA shared projections: the adapter has save_projection=false, so it loads no projections, but the checkpoint has %s; "
                            + "set save_projection to true to use them", new TreeSet<>(state.keySet())));
        }
    }

    private static Parameter frozen(String name, Shape shape, Initializer initializer) {
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).optShape(shape).optInitializer(initializer).optRequiresGrad(false).build();
    }

    private Map<String, Parameter> prepared() {
        if (shared == null) {
            throw new IllegalStateException("VeRA adapter is not prepared: call prepare(sites) with every target before using its projections");
        }
        return shared;
    }
}
