package dev.graft.plugin.adapter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestBottleneckAdapterMethod {
    private static final SublayerSite ATTENTION_0 = new SublayerSite("model.layers.0.self_attn", 0, SublayerKind.ATTENTION, 64);
    private static final SublayerSite MLP_0 = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 64);
    private static final SublayerSite ATTENTION_1 = new SublayerSite("model.layers.1.self_attn", 1, SublayerKind.ATTENTION, 64);
    private static final SublayerSite MLP_1 = new SublayerSite("model.layers.1.mlp", 1, SublayerKind.FEED_FORWARD, 64);
    private static final List<Site> SUBLAYERS = List.of(ATTENTION_0, MLP_0, ATTENTION_1, MLP_1);

    private final PeftMethod method = new BottleneckAdapterMethod();
    private NDManager manager;
    private ModelContext model;

    @BeforeEach
    void openModel() {
        manager = NDManager.newBaseManager();
        model = LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 1), manager, null).context();
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = method.descriptor();

        assertThat(descriptor.id()).isEqualTo("adapter");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("BOTTLENECK");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.SUBLAYER);
        assertThat(descriptor.mergeable()).isFalse();
        assertThat(descriptor.defaultTargets()).isEmpty();
        assertThat(descriptor.options().names()).containsExactly(
                "config", "reduction_factor", "non_linearity", "scaling", "init_weights", "mh_adapter", "output_adapter", "is_parallel", "dropout", "leave_out");
    }

    @Test
    void testServiceLoaderFindsTheMethod() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type)).contains(BottleneckAdapterMethod.class);
    }

    @Test
    void testPfeifferIsTheDefault() {
        MethodInstance instance = create(Map.of());

        assertThat(accepted(instance)).containsExactly(MLP_0, MLP_1);
        BottleneckAdapterModule module = (BottleneckAdapterModule) instance.attach(MLP_0);
        assertThat(module.bottleneck()).isEqualTo(4);
        assertThat(module.nonLinearity()).isEqualTo(NonLinearity.RELU);
        assertThat(module.scaling()).isEqualTo(1f);
        assertThat(module.isParallel()).isFalse();
    }

    @Test
    void testHoulsbyAndParallelPresetsUnderBothNames() {
        for (String name : List.of("houlsby", "double_seq_bn")) {
            MethodInstance instance = create(Map.of("config", name));
            assertThat(accepted(instance)).as(name).containsExactlyElementsOf(SUBLAYERS);
            BottleneckAdapterModule module = (BottleneckAdapterModule) instance.attach(ATTENTION_1);
            assertThat(module.nonLinearity()).as(name).isEqualTo(NonLinearity.SWISH);
            assertThat(module.bottleneck()).as(name).isEqualTo(4);
        }
        for (String name : List.of("parallel", "par_bn")) {
            MethodInstance instance = create(Map.of("config", name));
            assertThat(accepted(instance)).as(name).containsExactly(MLP_0, MLP_1);
            BottleneckAdapterModule module = (BottleneckAdapterModule) instance.attach(MLP_1);
            assertThat(module.isParallel()).as(name).isTrue();
            assertThat(module.scaling()).as(name).isEqualTo(4f);
            assertThat(module.bottleneck()).as(name).isEqualTo(32);
        }
        assertThat(accepted(create(Map.of("config", "seq_bn")))).containsExactly(MLP_0, MLP_1);
    }

    @Test
    void testExplicitOptionsOverrideThePreset() {
        MethodInstance instance = create(Map.of(
                "config", "parallel", "mh_adapter", true, "output_adapter", false, "is_parallel", false,
                "reduction_factor", 2.5, "non_linearity", "silu", "scaling", -0.5, "leave_out", List.of(1)));

        assertThat(accepted(instance)).containsExactly(ATTENTION_0);
        BottleneckAdapterModule module = (BottleneckAdapterModule) instance.attach(ATTENTION_0);
        assertThat(module.bottleneck()).as("floor(64 / 2.5)").isEqualTo(25);
        assertThat(module.nonLinearity()).isEqualTo(NonLinearity.SWISH);
        assertThat(module.scaling()).isEqualTo(-0.5f);
        assertThat(module.isParallel()).isFalse();
    }

    @Test
    void testBottleneckIsAtLeastOneWide() {
        assertThat(((BottleneckAdapterModule) create(Map.of("reduction_factor", 100)).attach(MLP_0)).bottleneck()).isEqualTo(1);
        assertThat(((BottleneckAdapterModule) create(Map.of("reduction_factor", 0.5)).attach(MLP_0)).bottleneck()).as("an up-projection").isEqualTo(128);
    }

    @Test
    void testDoesNotAcceptOtherSiteKinds() {
        MethodInstance instance = create(Map.of("config", "houlsby"));
        AttentionSite attention = new AttentionSite("model.layers.0.self_attn", 0, 4, 2, 16);

        assertThat(instance.accepts(attention)).isFalse();
        assertThatThrownBy(() -> instance.attach(attention))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Method 'adapter' attaches to sublayer sites only, but model.layers.0.self_attn is a ATTENTION site");
    }

    @Test
    void testParameterCountFormula() {
        // d = 64 / 16 = 4: 2·64·4 + 4 + 64 = 580 per sublayer; with reduction 8, d = 8: 1,096.
        assertThat(create(Map.of()).trainableParameterCount(List.of(MLP_0, MLP_1))).isEqualTo(1_160L);
        assertThat(create(Map.of("config", "houlsby")).trainableParameterCount(SUBLAYERS)).isEqualTo(2_320L);
        assertThat(create(Map.of("reduction_factor", 8)).trainableParameterCount(List.of(MLP_0))).isEqualTo(1_096L);
    }

    @Test
    void testInvalidOptionsNameTheMethodKeyValueAndWhatIsAllowed() {
        assertInvalid(Map.of("reduction_factor", 0),
                "Method 'adapter': option 'reduction_factor' is 0.0, but must be a number > 0. Fix the value.");
        assertInvalid(Map.of("scaling", Double.NaN),
                "Method 'adapter': option 'scaling' is NaN, but must be a finite number (AdapterHub's \"learned\" and \"channel\" scalings are not supported). Fix the value.");
        assertInvalid(Map.of("dropout", -0.1), "Method 'adapter': option 'dropout' is -0.1, but must be a number in [0, 1). Fix the value.");
        assertInvalid(Map.of("mh_adapter", false, "output_adapter", false),
                "Method 'adapter': options 'mh_adapter' and 'output_adapter' are both false, so the adapter attaches nowhere. Set at least one of them to true.");
        assertInvalid(Map.of("leave_out", List.of(0, 5)),
                "Method 'adapter': option 'leave_out' is [0, 5], but must be a list of layer indices from 0 to 1 (the model has 2 layers). Fix the value.");
        assertInvalid(Map.of("leave_out", List.of(1, 0)),
                "Method 'adapter': option 'leave_out' is [1, 0], but must be a list that leaves at least one layer with an adapter. Fix the value.");
        assertThatThrownBy(() -> create(Map.of("config", "compacter")))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'adapter': option 'config' is \"compacter\", which is not allowed. Allowed values: \"pfeiffer\", \"houlsby\", "
                        + "\"parallel\", \"seq_bn\", \"double_seq_bn\", \"par_bn\".");
    }

    private void assertInvalid(Map<String, Object> options, String message) {
        assertThatThrownBy(() -> create(options)).isInstanceOf(InvalidOptionsException.class).hasMessage(message);
    }

    private MethodInstance create(Map<String, Object> options) {
        return method.create(method.descriptor().options().validate("adapter", options), model);
    }

    private static List<Site> accepted(MethodInstance instance) {
        return SUBLAYERS.stream().filter(instance::accepts).toList();
    }
}
