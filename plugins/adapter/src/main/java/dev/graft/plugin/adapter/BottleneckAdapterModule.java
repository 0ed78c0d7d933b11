package dev.graft.plugin.adapter;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.Dropouts;
import dev.graft.spi.SublayerModule;
import dev.graft.spi.SublayerSite;

/**
 * A bottleneck adapter at one sublayer: {@code delta = up(f(down(z)))} with {@code down: hidden → bottleneck},
 * {@code up: bottleneck → hidden} (both with bias) and {@code f} the activation; {@code z} is the sublayer output
 * {@code h} for a serial adapter and the sublayer's normalised input {@code x_in} for a parallel one. The runtime adds
 * {@code scaling()·delta} to {@code h} before the residual add (or the gate's value in place of the scaling).
 *
 * <p>Parameters, named as the checkpoint keys relative to the site (AdapterHub-like, in PEFT's key style):
 * {@code adapter_down.weight (bottleneck, hidden)}, {@code adapter_down.bias (bottleneck)},
 * {@code adapter_up.weight (hidden, bottleneck)}, {@code adapter_up.bias (hidden)}.
 */
public final class BottleneckAdapterModule extends AbstractBlock implements SublayerModule {
    /** The down-projection weight, {@code (bottleneck, hidden)}. */
    public static final String ADAPTER_DOWN_WEIGHT = "adapter_down.weight";
    /** The down-projection bias, {@code (bottleneck)}. */
    public static final String ADAPTER_DOWN_BIAS = "adapter_down.bias";
    /** The up-projection weight, {@code (hidden, bottleneck)}. */
    public static final String ADAPTER_UP_WEIGHT = "adapter_up.weight";
    /** The up-projection bias, {@code (hidden)}. */
    public static final String ADAPTER_UP_BIAS = "adapter_up.bias";

    private static final byte VERSION = 1;

    private final SublayerSite site;
    private final int bottleneck;
    private final NonLinearity nonLinearity;
    private final float scaling;
    private final float dropout;
    private final boolean parallel;
    private final Parameter downWeight;
    private final Parameter downBias;
    private final Parameter upWeight;
    private final Parameter upBias;

    private BottleneckAdapterModule(Builder builder) {
        super(VERSION);
        this.site = builder.site;
        this.nonLinearity = requireNonNull(builder.nonLinearity, "nonLinearity is null");
        AdapterInitialization initialization = requireNonNull(builder.initialization, "initialization is null");
        SublayerSite site = builder.site;
        int bottleneck = builder.bottleneck;
        float dropout = builder.dropout;
        if (bottleneck <= 0) {
            throw new IllegalArgumentException(format("bottleneck adapter at %s: bottleneck width must be greater than 0, but is %d", site.name(), bottleneck));
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(format("bottleneck adapter at %s: dropout must be in [0, 1), but is %s", site.name(), dropout));
        }
        this.bottleneck = bottleneck;
        this.scaling = builder.scaling;
        this.dropout = dropout;
        this.parallel = builder.parallel;
        int hidden = site.hiddenSize();
        downWeight = addParameter(Parameter.builder().setName(ADAPTER_DOWN_WEIGHT).setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(bottleneck, hidden)).optInitializer(initialization.downWeight(hidden)).build());
        downBias = addParameter(Parameter.builder().setName(ADAPTER_DOWN_BIAS).setType(Parameter.Type.BIAS)
                .optShape(new Shape(bottleneck)).optInitializer(initialization.bias()).build());
        upWeight = addParameter(Parameter.builder().setName(ADAPTER_UP_WEIGHT).setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(hidden, bottleneck)).optInitializer(initialization.upWeight()).build());
        upBias = addParameter(Parameter.builder().setName(ADAPTER_UP_BIAS).setType(Parameter.Type.BIAS)
                .optShape(new Shape(hidden)).optInitializer(initialization.bias()).build());
    }

    @Override
    public SublayerSite site() {
        return site;
    }

    /** The bottleneck width. */
    public int bottleneck() {
        return bottleneck;
    }

    /** Whether this adapter reads the sublayer input (parallel) rather than its output (serial). */
    public boolean isParallel() {
        return parallel;
    }

    /** The activation between the projections. */
    public NonLinearity nonLinearity() {
        return nonLinearity;
    }

    @Override
    public float scaling() {
        return scaling;
    }

    /**
     * {@code up(f(down(z)))}, unscaled, with dropout on the result while training; {@code z} is {@code sublayerOutput}
     * for a serial adapter and {@code sublayerInput} for a parallel one. It is computed in the parameters' precision
     * (float32), as PEFT casts adapter inputs, and returned in {@code z}'s. Temporaries live in a sub-manager; the
     * result is attached to {@code z}'s manager.
     */
    @Override
    public NDArray delta(ParameterStore parameterStore, NDArray sublayerInput, NDArray sublayerOutput, boolean training) {
        requireNonNull(parameterStore, "parameterStore is null");
        NDArray z = parallel ? requireNonNull(sublayerInput, "sublayerInput is null") : requireNonNull(sublayerOutput, "sublayerOutput is null");
        if (z.getShape().dimension() == 0 || z.getShape().getLastDimension() != site.hiddenSize()) {
            throw new IllegalArgumentException(format("bottleneck adapter at %s: %s has shape %s, but its last dimension must be hidden=%d",
                    site.name(), parallel ? "sublayer input" : "sublayer output", z.getShape(), site.hiddenSize()));
        }
        try (NDManager scope = z.getManager().newSubManager()) {
            scope.tempAttachAll(z);
            NDArray weight = value(parameterStore, downWeight, z, training);
            NDArray input = z.getDataType() == weight.getDataType() ? z : z.toType(weight.getDataType(), false);
            NDArray down = Linear.linear(input, weight, value(parameterStore, downBias, z, training)).singletonOrThrow();
            NDArray up = Linear.linear(nonLinearity.apply(down), value(parameterStore, upWeight, z, training), value(parameterStore, upBias, z, training))
                    .singletonOrThrow();
            NDArray result = Dropouts.apply(up, dropout, training);
            return scope.ret(result.getDataType() == z.getDataType() ? result : result.toType(z.getDataType(), false));
        }
    }

    private static NDArray value(ParameterStore parameterStore, Parameter parameter, NDArray like, boolean training) {
        return parameterStore.getValue(parameter, like.getDevice(), training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(delta(parameterStore, inputs.get(0), inputs.get(1), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    public String toString() {
        return format("BottleneckAdapterModule(%s, %s, bottleneck=%d, %s, scaling=%s, dropout=%s)",
                site.name(), parallel ? "parallel" : "serial", bottleneck, nonLinearity.optionValue(), scaling, dropout);
    }

    /**
     * A builder for a bottleneck adapter at {@code site}: {@code setBottleneck} is required.
     *
     * @param site the sublayer site
     */
    public static Builder builder(SublayerSite site) {
        return new Builder(site);
    }

    /** Builds a {@link BottleneckAdapterModule} in DJL's style: {@code setX} for what is required, {@code optX} for what has a default. */
    public static final class Builder {
        private final SublayerSite site;
        private int bottleneck;
        private NonLinearity nonLinearity = NonLinearity.RELU;
        private float scaling = 1;
        private float dropout;
        private boolean parallel;
        private AdapterInitialization initialization = AdapterInitialization.MAM_ADAPTER;

        private Builder(SublayerSite site) {
            this.site = requireNonNull(site, "site is null");
        }

        /** The bottleneck width, greater than 0 (required). */
        public Builder setBottleneck(int bottleneck) {
            this.bottleneck = bottleneck;
            return this;
        }

        /** The activation between the projections (relu by default). */
        public Builder optNonLinearity(NonLinearity nonLinearity) {
            this.nonLinearity = requireNonNull(nonLinearity, "nonLinearity is null");
            return this;
        }

        /** The factor applied to {@link BottleneckAdapterModule#delta} in plain composition (1 by default). */
        public Builder optScaling(float scaling) {
            this.scaling = scaling;
            return this;
        }

        /** The dropout probability on the output while training, in {@code [0, 1)} (0 by default). */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Whether the adapter reads the sublayer input (parallel) rather than its output (serial, the default). */
        public Builder optParallel(boolean parallel) {
            this.parallel = parallel;
            return this;
        }

        /** How the projections start ({@code mam_adapter} by default). */
        public Builder optInitialization(AdapterInitialization initialization) {
            this.initialization = requireNonNull(initialization, "initialization is null");
            return this;
        }

        /** The module. */
        public BottleneckAdapterModule build() {
            return new BottleneckAdapterModule(this);
        }
    }
}
