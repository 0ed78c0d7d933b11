package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The base's hooks: the SPI version, accepts, checkSites, the site-kind check and the optional factory methods. Runs without an engine. */
final class TestAbstractPeftMethod {
    private static final SublayerSite ATTENTION_0 = new SublayerSite("model.layers.0.self_attn", 0, SublayerKind.ATTENTION, 8);
    private static final SublayerSite MLP_0 = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 8);
    private static final SublayerSite MLP_1 = new SublayerSite("model.layers.1.mlp", 1, SublayerKind.FEED_FORWARD, 8);
    private static final LinearSite LINEAR = new LinearSite("model.layers.0.self_attn.q_proj", 0, 8, 8, false);

    record Options(
            @Option(name = "width", defaultValue = "2", minimum = 1, description = "width") int width,
            @Option(name = "skip_layer", defaultValue = "-1", description = "a layer without a module") int skipLayer) {}

    /** Attaches to feed-forward sublayers except {@code skip_layer}, refuses targets narrower than {@code width}, and counts {@code width}. */
    static final class FeedForwardMethod extends AbstractPeftMethod<Options> {
        FeedForwardMethod() {
            super(Options.class, describe()
                    .setId("feed-forward")
                    .setVersion("0.1.0")
                    .setSpiVersion(SPI_VERSION)
                    .setPeftType("FEED_FORWARD")
                    .setSiteKinds(SiteKind.SUBLAYER)
                    .setModuleType(SublayerModule.class)
                    .setDescription("test method"));
        }

        @Override
        protected boolean accepts(Options options, Site site) {
            return ((SublayerSite) site).sublayer() == SublayerKind.FEED_FORWARD && site.layerIndex() != options.skipLayer();
        }

        @Override
        protected void checkSites(Options options, List<Site> sites) {
            for (Site site : sites) {
                if (((SublayerSite) site).hiddenSize() < options.width()) {
                    throw InvalidOptionsException.wrongTogether(id(), "option 'width' is %d, wider than %s", options.width(), site.name());
                }
            }
        }

        @Override
        protected long parameterCount(Options options, Site site) {
            return options.width();
        }
    }

    private final FeedForwardMethod method = new FeedForwardMethod();

    @Test
    void testSpiVersionIsTheCurrentOne() {
        assertThat(AbstractPeftMethod.SPI_VERSION).isEqualTo(SpiVersion.CURRENT);
        assertThat(method.descriptor().spiVersion()).isEqualTo(SpiVersion.CURRENT);
    }

    @Test
    void testDescriptorWithoutSpiVersionIsRefused() {
        assertThatThrownBy(() -> MethodDescriptor.builder().setId("late").setVersion("1").setPeftType("LATE").setSiteKinds(SiteKind.LINEAR)
                .setModuleType(MethodModule.class).setDescription("no SPI version").build())
                .isInstanceOf(NullPointerException.class)
                .hasMessage("spiVersion is null: method 'late' must call setSpiVersion(SPI_VERSION) in its constructor");
    }

    @Test
    void testAcceptsChecksTheKindThenTheMethodsFilter() {
        MethodInstance instance = create(Map.of("skip_layer", 1));
        assertThat(instance.accepts(MLP_0)).isTrue();
        assertThat(instance.accepts(MLP_1)).isFalse();
        assertThat(instance.accepts(ATTENTION_0)).isFalse();
        assertThat(instance.accepts(LINEAR)).isFalse();
    }

    @Test
    void testPrepareChecksKindsThenTheMethodsRule() {
        create(Map.of("width", 8)).prepare(List.of(MLP_0, MLP_1));
        assertThatThrownBy(() -> create(Map.of("width", 9)).prepare(List.of(MLP_0)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'feed-forward': option 'width' is 9, wider than model.layers.0.mlp");
        assertThatThrownBy(() -> create(Map.of()).prepare(List.of(LINEAR)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Method 'feed-forward' attaches to sublayer sites only, but model.layers.0.self_attn.q_proj is a LINEAR site");
    }

    @Test
    void testCountUsesTheFormulaAndAttachWithoutModuleSaysWhatToOverride() {
        MethodInstance instance = create(Map.of("width", 3));
        assertThat(instance.trainableParameterCount(List.of(MLP_0, MLP_1))).isEqualTo(6);
        assertThatThrownBy(() -> instance.attach(MLP_0))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("Method 'feed-forward' must override module(options, site) or createInstance(options, model)");
    }

    private MethodInstance create(Map<String, Object> raw) {
        return method.create(method.descriptor().options().validate("feed-forward", raw), new NoModel());
    }

    /** A model context the method never reads. */
    private static final class NoModel implements ModelContext {
        @Override
        public String modelType() {
            return "none";
        }

        @Override
        public int numLayers() {
            return 2;
        }

        @Override
        public int hiddenSize() {
            return 8;
        }

        @Override
        public int numAttentionHeads() {
            return 1;
        }

        @Override
        public int numKeyValueHeads() {
            return 1;
        }

        @Override
        public int headDim() {
            return 8;
        }

        @Override
        public int vocabularySize() {
            return 1;
        }

        @Override
        public NDArray embedTokens(NDManager manager, long[] tokenIds) {
            throw new UnsupportedOperationException("no embeddings");
        }

        @Override
        public long[] tokenize(String text) {
            throw new UnsupportedOperationException("no tokenizer");
        }
    }
}
